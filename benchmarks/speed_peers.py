"""vqv's encode and decode speed against x264 veryslow and x265 medium, on the same clips, at
64x64 and at native sizes (320x240, optionally 1280x720), as ratios. From the repository root:

    python -m benchmarks.speed_peers --threads 2                                    # 64x64 and 320x240
    python -m benchmarks.speed_peers --sizes 64x64,320x240,1280x720 --native-frames 32 --repeats 1
    python -m benchmarks.speed_peers --video clip.mp4 --json bench_out/speed_peers.json

The clip at each size: ``--video`` (any file the codec reads, or a ``.npy``) resized to that size,
else the quick-start sample's procedural scene (tools/make_sample.py) drawn at that size, so every
size has real detail (no upscaling). 64x64 clips are ``--frames`` long, larger ones ``--native-frames``.

vqv runs in-process (``encode_frames`` / ``decode_bytes``, as benchmarks.speed: put an older
checkout first on PYTHONPATH with ``python -P`` to time it) with ``--threads`` torch threads;
the peers run through PyAV with one thread, as in the rate-distortion benchmark (benchmarks.peers),
each at the CRF (of ``--crfs``) whose bytes come closest to vqv's on the clip. Per codec: one
untimed warm-up, then the median of ``--repeats``. The ratios are vqv's encode and decode frames/s
over the peer's frames/s for encode *and* decode together (the issue's measure), and over the
peer's encode and decode alone.
"""
from __future__ import annotations

import json
import os
import statistics
import time
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import click

FPS = Fraction(16)
DEFAULT_SIZES = "64x64,320x240"


def parse_sizes(text: str) -> list[tuple[int, int]]:
    out = []
    for part in text.split(","):
        w, _, h = part.strip().lower().partition("x")
        if not (w.isdigit() and h.isdigit()):
            raise click.BadParameter(f"{part!r} is not WxH", param_hint="--sizes")
        out.append((int(w), int(h)))
    return out


def make_clip(video: Path | None, w: int, h: int, n: int):
    """``n`` frames (n, h, w, 3) uint8: ``video`` resized (its first n frames, the last repeated if
    it is shorter), else the sample's scene drawn at w x h."""
    import numpy as np

    if video is None:
        from tools.make_sample import frame
        return np.stack([frame(k, w, h) for k in range(n)])
    from vqcodec.io.reader import open_video, resize_frames

    if video.suffix.lower() == ".npy":
        src = np.load(video, mmap_mode="r")
        frames = [resize_frames(np.asarray(src[i:i + 1]), w, h)[0] for i in range(min(n, len(src)))]
    else:
        _, it = open_video(str(video))
        frames = []
        for f in it:
            frames.append(resize_frames(f[None], w, h)[0])
            if len(frames) == n:
                break
    if not frames:
        raise click.ClickException(f"{video}: no frames")
    frames += [frames[-1]] * (n - len(frames))
    return np.stack(frames)


def timed(fn, repeats: int) -> tuple[object, float]:
    """``fn()``'s result (from the warm-up) and its median time over ``repeats`` further runs."""
    out = fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return out, statistics.median(times)


def run_vqv(vqv, clip, quality: int, prior: str, repeats: int) -> dict:
    import numpy as np

    from vqcodec.metrics import psnr

    data, enc_s = timed(lambda: vqv.encode(clip, FPS, model=vqv.model, quality=quality, prior=prior,
                                           **vqv.options), repeats)
    dec, dec_s = timed(lambda: np.asarray(vqv.decode(data, model=vqv.model)), repeats)
    n = len(clip)
    return {"bytes": len(data), "psnr": psnr(clip, dec), "enc_fps": n / enc_s, "dec_fps": n / dec_s}


def run_peer(peer, decoder: str, clip, crfs: list[int], target_bytes: int, repeats: int) -> dict:
    """The peer at the CRF of ``crfs`` whose bytes come closest to ``target_bytes`` (in log terms),
    timed as vqv is."""
    import math

    from benchmarks.peers import encode_peer
    from vqcodec.metrics import psnr

    tried = {c: encode_peer(peer, clip, FPS, c, decoder=decoder).n_bytes for c in crfs}
    crf = min(crfs, key=lambda c: abs(math.log(max(tried[c], 1) / max(target_bytes, 1))))
    res = encode_peer(peer, clip, FPS, crf, decoder=decoder)            # warm-up at that CRF
    enc, dec = [], []
    for _ in range(repeats):
        r = encode_peer(peer, clip, FPS, crf, decoder=decoder)
        enc.append(r.enc_seconds)
        dec.append(r.dec_seconds)
    n = len(clip)
    e, d = statistics.median(enc), statistics.median(dec)
    return {"crf": crf, "bytes": res.n_bytes, "psnr": psnr(clip, res.decoded), "enc_fps": n / e, "dec_fps": n / d,
            "roundtrip_fps": n / (e + d)}


def peer_codecs() -> dict:
    """x264 at the rate-distortion benchmark's settings (veryslow) and x265 at medium."""
    from benchmarks.peers import PEERS

    x265 = PEERS["x265"]
    medium = tuple((k, "medium" if k == "preset" else v) for k, v in x265.base_options)
    return {"x264 veryslow": PEERS["x264"], "x265 medium": replace(x265, base_options=medium)}


def ratios(row: dict, peer: dict) -> dict:
    return {"enc_vs_roundtrip": row["enc_fps"] / peer["roundtrip_fps"],
            "dec_vs_roundtrip": row["dec_fps"] / peer["roundtrip_fps"],
            "enc_vs_enc": row["enc_fps"] / peer["enc_fps"], "dec_vs_dec": row["dec_fps"] / peer["dec_fps"]}


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--sizes", default=DEFAULT_SIZES, show_default=True,
              help="Comma-separated WxH; add 1280x720 for the (slow: minutes) 720p row.")
@click.option("--video", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Clip source, resized to each size (default: the sample's procedural scene).")
@click.option("--frames", type=click.IntRange(1), default=128, show_default=True, help="Frames at 64x64.")
@click.option("--native-frames", type=click.IntRange(1), default=64, show_default=True,
              help="Frames at the larger sizes.")
@click.option("--threads", type=click.IntRange(1), default=2, show_default=True, help="vqv's torch threads.")
@click.option("--quality", type=int, default=None, help="vqv quality (default: the model's).")
@click.option("--prior", default="auto", show_default=True)
@click.option("--preset", default=None, help="vqv's encoder preset (passed to encode_frames; default: not passed).")
@click.option("--crfs", default="24,30,36,42,48", show_default=True, help="Peer CRFs tried to match vqv's bytes.")
@click.option("--peers", "peer_names", default="x264 veryslow,x265 medium", show_default=True)
@click.option("--repeats", type=click.IntRange(1), default=3, show_default=True)
@click.option("--weights", default=None)
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), default=None)
def main(sizes, video, frames, native_frames, threads, quality, prior, preset, crfs, peer_names, repeats, weights,
         json_out) -> None:
    """vqv encode / decode frames/s against x264 and x265 on the same clips, as ratios."""
    os.environ["OMP_NUM_THREADS"] = str(threads)  # before torch is imported
    import torch

    from benchmarks.machine import machine_info
    from benchmarks.peers import check_peer
    from benchmarks.vqv_runner import load_vqv

    torch.set_num_threads(threads)
    vqv = load_vqv(weights, [prior], {"preset": preset})
    q = quality or vqv.model.default_quality
    peers = {n: p for n, p in peer_codecs().items() if n in [s.strip() for s in peer_names.split(",")]}
    decoders = {}
    for name, peer in peers.items():
        dec, why = check_peer(peer, FPS)
        if dec is None:
            click.echo(f"{name} skipped: {why}", err=True)
        else:
            decoders[name] = dec
    crf_list = [int(c) for c in crfs.split(",")]
    click.echo(f"vqcodec: {vqv.describe['module']} (sources {vqv.describe['sources_sha256']}); Q{q}, prior {prior}, "
               f"{'preset ' + preset + ', ' if preset else ''}torch threads {threads}; peers one thread; median of {repeats}")
    head = f"{'size':>10}{'frames':>7}{'codec':>15}{'bytes':>9}{'PSNR':>7}{'enc fps':>9}{'dec fps':>9}{'enc+dec':>9}"
    click.echo(head + f"{'enc/peer rt':>12}{'dec/peer rt':>12}")
    rows = []
    with torch.inference_mode():
        for w, h in parse_sizes(sizes):
            n = frames if (w, h) == (64, 64) else native_frames
            clip = make_clip(video, w, h, n)
            v = run_vqv(vqv, clip, q, prior, repeats)
            row = {"size": f"{w}x{h}", "frames": n, "vqv": v, "peers": {}}
            click.echo(f"{row['size']:>10}{n:>7}{'vqv Q' + str(q):>15}{v['bytes']:>9}{v['psnr']:>7.2f}"
                       f"{v['enc_fps']:>9.2f}{v['dec_fps']:>9.2f}{'':>9}")
            for name, peer in peers.items():
                if name not in decoders:
                    continue
                p = run_peer(peer, decoders[name], clip, crf_list, v["bytes"], repeats)
                p["ratios"] = ratios(v, p)
                row["peers"][name] = p
                click.echo(f"{'':>10}{'':>7}{name + ' ' + str(p['crf']):>15}{p['bytes']:>9}{p['psnr']:>7.2f}"
                           f"{p['enc_fps']:>9.2f}{p['dec_fps']:>9.2f}{p['roundtrip_fps']:>9.2f}"
                           f"{p['ratios']['enc_vs_roundtrip']:>12.3f}{p['ratios']['dec_vs_roundtrip']:>12.3f}")
            rows.append(row)
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps({"quality": q, "prior": prior, "preset": preset, "threads": threads, "repeats": repeats,
                                        "video": str(video) if video else "tools/make_sample.py scene",
                                        "vqv": vqv.describe, "rows": rows, "machine": machine_info()},
                                       indent=1, default=str))


if __name__ == "__main__":
    main()
