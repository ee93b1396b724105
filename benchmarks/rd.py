"""Rate-distortion, speed and memory benchmark of vqv against x264, x265, VP9 and AV1.

Every input clip is cut the same way (16 fps, centre square crop, 64x64, 32 frames) and encoded on
its own by every codec at every setting; see benchmarks/README.md for the protocol and the files
it writes. Run ``python -m benchmarks.rd --help`` from the repository root.
"""
from __future__ import annotations

import os
from pathlib import Path

if __name__ == "__main__" and "OMP_NUM_THREADS" not in os.environ:
    os.environ["OMP_NUM_THREADS"] = "1"  # before torch is imported

import click  # noqa: E402

from benchmarks.baseline import load_baseline  # noqa: E402
from benchmarks.benchmark import ALL_CODECS, run_benchmark  # noqa: E402
from benchmarks.options import cache_dir_option, input_option  # noqa: E402
from benchmarks.clips import PROTOCOL_FRAMES, load_clips  # noqa: E402
from benchmarks.report import print_table  # noqa: E402


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@input_option("corpus:DIR (validation clips of the open corpus), folder:DIR, ucf101:DIR, or npy:DIR "
              "(already cut (T,H,W,3) uint8 clips, used as they are).")
@click.option("--out", "-o", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("bench_out"),
              show_default=True)
@click.option("--max-clips", type=click.IntRange(1), default=None, help="Use at most N clips.")
@click.option("--codecs", default=",".join(ALL_CODECS), show_default=True, help="Comma-separated subset.")
@click.option("--weights", default=None, help="vqv model weights (default: the shipped model).")
@click.option("--priors", default=None, help="Comma-separated vqv priors (default: every available kind).")
@click.option("--threads", type=click.IntRange(1), default=1, show_default=True, help="torch threads for vqv (peers use 1).")
@cache_dir_option
@click.option("--frames", type=click.IntRange(1), default=PROTOCOL_FRAMES, show_default=True,
              help="Clip length in frames at 16 fps (e.g. 128 = four 32-frame GOPs, cut from the same videos). "
                   "npy: clips are used as they are.")
@click.option("--rdo-strength", type=float, default=None,
              help="vqv encoder: passed as encode_frames(rdo_strength=...) (0 = copy mode off). "
                   "Default: not passed (the codec's own default).")
@click.option("--refresh", type=click.IntRange(0), default=None,
              help="vqv encoder: passed as encode_frames(refresh=...) (0 = never). Default: not passed.")
@click.option("--motion/--no-motion", default=None,
              help="vqv encoder: passed as encode_frames(motion=...) (the motion layer). Default: not passed.")
@click.option("--preset", default=None,
              help="vqv encoder: passed as encode_frames(preset=...) (ultrafast .. medium). Default: not passed.")
@click.option("--vqv-label", default=None, help="Name of this run's vqv curves in plots and tables (e.g. after).")
@click.option("--baseline", type=click.Path(exists=True, path_type=Path), default=None,
              help="A saved run (its directory, summary.json or points.csv) on the same clips: adds BD-rate/BD-PSNR "
                   "of every vqv curve against the baseline's and the largest PSNR loss at equal rate; peers "
                   "left out of --codecs are taken from it.")
@click.option("--baseline-label", default=None, help="Name of the baseline (default: its --vqv-label, else baseline).")
@click.option("--smoke", is_flag=True, help="2 clips, 2 rates per codec: checks the pipeline, not the numbers.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no table.")
def main(input_spec: str, out_dir: Path, max_clips: int | None, codecs: str, weights: str | None, priors: str | None,
         threads: int, cache_dir: Path, frames: int, rdo_strength: float | None, refresh: int | None,
         motion: bool | None, preset: str | None, vqv_label: str | None, baseline: Path | None, baseline_label: str | None, smoke: bool, quiet: bool) -> None:
    """Rate-distortion benchmark of vqv against x264, x265, VP9 and AV1 (see benchmarks/README.md)."""
    def log(msg: str) -> None:
        click.echo(msg, err=True)

    if smoke:
        max_clips = 2 if max_clips is None else min(max_clips, 2)
    codec_list = [c.strip() for c in codecs.split(",") if c.strip()]
    prior_list = [p.strip() for p in priors.split(",") if p.strip()] if priors else None
    base = load_baseline(baseline) if baseline is not None else None
    clips = load_clips(input_spec, max_clips, cache_dir, log, frames)
    log(f"{len(clips)} clip(s) from {input_spec}")
    summary = run_benchmark(clips, out_dir, codecs=codec_list, smoke=smoke, threads=threads, weights=weights,
                            priors=prior_list, log=log, progress=not quiet, input_spec=input_spec, frames=frames,
                            vqv_options={"rdo_strength": rdo_strength, "refresh": refresh, "motion": motion,
                                         "preset": preset}, vqv_label=vqv_label,
                            baseline=base, baseline_label=baseline_label)
    if not quiet:
        print_table(summary)
    log(f"wrote {out_dir}/points.csv, summary.json, summary.md, rd_psnr.png, rd_ssim.png")


if __name__ == "__main__":
    main()
