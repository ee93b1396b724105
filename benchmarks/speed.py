"""Encode and decode speed of vqv (frames/s) on one clip, at every quality, with N torch threads.

Uses rd.py's clip protocol (clips.py: 16 fps, centre square crop, 64x64; ``--frames`` long) and its
vqv hook (vqv_runner.py), so it measures whichever ``vqcodec`` is importable: put an older checkout first on PYTHONPATH to
time that one, with ``python -P`` so that the working tree's own ``vqcodec`` does not come first (the line ``vqcodec:``
says which was used). From the repository root:

    python -m benchmarks.speed --threads 2 --frames 128                                  # new code, working tree
    PYTHONPATH=/tmp/vqv-old-site:. python -P -m benchmarks.speed --threads 2 --frames 128   # an older release

Per quality: one untimed warm-up, then ``--repeats`` encodes and decodes; the median time counts.
Encode = ``encode_frames`` (uint8 frames in, bytes out), decode = ``decode_bytes`` (bytes in, uint8
frames out). The totals are all frames / sum of the medians. Every repeat must give the same bytes.
"""
from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path

import click

from benchmarks.options import cache_dir_option, input_option


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@input_option("As rd.py's --input.")
@cache_dir_option
@click.option("--frames", type=click.IntRange(1), default=128, show_default=True)
@click.option("--clip", "clip_name", default=None,
              help="Substring of the clip's name (default: the clip with the most frames of real video).")
@click.option("--threads", type=click.IntRange(1), default=2, show_default=True, help="torch threads.")
@click.option("--qualities", default=None, help="Comma-separated (default: every quality of the model).")
@click.option("--prior", default="auto", show_default=True)
@click.option("--repeats", type=click.IntRange(1), default=3, show_default=True)
@click.option("--weights", default=None)
@click.option("--rdo-strength", type=float, default=None, help="Passed to encode_frames if set.")
@click.option("--refresh", type=click.IntRange(0), default=None, help="Passed to encode_frames if set.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), default=None)
def main(input_spec, cache_dir, frames, clip_name, threads, qualities, prior, repeats, weights, rdo_strength,
         refresh, json_out) -> None:
    """Encode / decode frames per second of vqv on one clip."""
    os.environ["OMP_NUM_THREADS"] = str(threads)  # before torch is imported
    import numpy as np
    import torch

    from benchmarks.clips import PROTOCOL_FPS, load_clips
    from benchmarks.machine import machine_info
    from benchmarks.vqv_runner import load_vqv

    torch.set_num_threads(threads)

    def log(msg: str) -> None:
        click.echo(msg, err=True)

    clips = load_clips(input_spec, None, cache_dir, log, frames)
    if clip_name:
        clips = [c for c in clips if clip_name in c.name]
        if not clips:
            raise click.ClickException(f"no clip matches {clip_name!r}")
    clip = max(clips, key=lambda c: c.real_frames if c.real_frames is not None else len(c.frames))
    vqv = load_vqv(weights, [prior], {"rdo_strength": rdo_strength, "refresh": refresh})
    qs = [int(q) for q in qualities.split(",")] if qualities else vqv.qualities
    t = len(clip.frames)
    click.echo(f"vqcodec: {vqv.describe['module']} (sources {vqv.describe['sources_sha256']}), "
               f"encoder options {vqv.describe['encoder_options']}")
    click.echo(f"clip {clip.name}: {t} frames ({clip.real_frames} of video), {clip.frames.shape[2]}x"
               f"{clip.frames.shape[1]}; torch threads {torch.get_num_threads()}; prior {prior}; "
               f"median of {repeats}")
    click.echo(f"{'quality':>8}{'bytes':>9}{'bpp':>8}{'enc fps':>10}{'dec fps':>10}")
    rows = []
    with torch.inference_mode():
        for q in qs:
            enc = lambda: vqv.encode(clip.frames, PROTOCOL_FPS, model=vqv.model, quality=q, prior=prior,  # noqa: E731
                                     **vqv.options)
            data = enc()  # warm-up
            np.asarray(vqv.decode(data, model=vqv.model))
            te, td = [], []
            for _ in range(repeats):
                t0 = time.perf_counter()
                d2 = enc()
                te.append(time.perf_counter() - t0)
                if d2 != data:
                    raise click.ClickException(f"q={q}: encoding is not deterministic")
                t0 = time.perf_counter()
                out = np.asarray(vqv.decode(data, model=vqv.model))
                td.append(time.perf_counter() - t0)
                if out.shape != clip.frames.shape:
                    raise click.ClickException(f"q={q}: decoded {out.shape}, expected {clip.frames.shape}")
            me, md = statistics.median(te), statistics.median(td)
            rows.append({"quality": q, "bytes": len(data), "bpp": 8 * len(data) / clip.frames[..., 0].size,
                         "enc_s": me, "dec_s": md, "enc_fps": t / me, "dec_fps": t / md})
            click.echo(f"{q:>8}{len(data):>9}{rows[-1]['bpp']:>8.4f}{t / me:>10.1f}{t / md:>10.1f}")
    total = {"enc_fps": t * len(rows) / sum(r["enc_s"] for r in rows),
             "dec_fps": t * len(rows) / sum(r["dec_s"] for r in rows)}
    click.echo(f"{'all':>8}{'':>9}{'':>8}{total['enc_fps']:>10.1f}{total['dec_fps']:>10.1f}")
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps({"clip": clip.name, "frames": t, "real_frames": clip.real_frames,
                                        "threads": threads, "prior": prior, "repeats": repeats, "vqv": vqv.describe,
                                        "options": vqv.options, "qualities": rows, "total": total,
                                        "machine": machine_info()}, indent=1, default=str))


if __name__ == "__main__":
    main()
