"""One benchmark run: every codec on every clip at every setting, then the curves, the comparisons
and the files (points.csv, summary.json, summary.md, rd_psnr.png, rd_ssim.png)."""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable, Sequence

import click
import numpy as np
import torch
from tqdm import tqdm

from benchmarks import report
from benchmarks.baseline import check_baseline, compare_baseline
from benchmarks.bd import BD_METHOD, MIN_BD_OVERLAP
from benchmarks.clips import PROTOCOL_FPS, PROTOCOL_FRAMES, PROTOCOL_SIZE, Clip
from benchmarks.curves import aggregate, codec_speed, compare, make_point, setting_key, vqv_best
from benchmarks.machine import PeakRSS, machine_info
from benchmarks.peers import PEER_PIX_FMT, PEER_THREADS, PEERS, Peer, check_peer, encode_peer, yuv420_roundtrip
from benchmarks.vqv_runner import load_vqv, run_vqv
from vqcodec import metrics as M

ALL_CODECS = (*PEERS, "vqv")


def run_benchmark(clips: list[Clip], out: Path, *, log: Callable[[str], None], codecs: Sequence[str] = ALL_CODECS,
                  smoke: bool = False, threads: int = 1, weights: str | None = None, priors: list[str] | None = None,
                  progress: bool = True, input_spec: str = "", frames: int = PROTOCOL_FRAMES,
                  vqv_options: dict | None = None, vqv_label: str | None = None, baseline: dict | None = None,
                  baseline_label: str | None = None) -> dict:
    """Run every codec on every clip, write points.csv, summary.json and the plots; return the summary.

    ``vqv_options`` go to every ``encode_frames`` call; ``vqv_label`` names this run's vqv curves in
    the plots and tables. ``baseline`` (from :func:`baseline.load_baseline`, same clips and length)
    adds the comparison of every vqv curve with the baseline's, and supplies the curves of peers this
    run does not measure itself.
    """
    torch.set_num_threads(threads)
    out.mkdir(parents=True, exist_ok=True)
    unknown = [c for c in codecs if c not in ALL_CODECS]
    if unknown:
        raise click.ClickException(f"unknown codec(s) {unknown}; choose from {', '.join(ALL_CODECS)}")
    if not clips:
        raise click.ClickException("no clips")
    if baseline is not None:  # before any encoding: a mismatched baseline is an error, not a footnote
        check_baseline(baseline, clips, frames)
        baseline_label = baseline_label or baseline.get("label") or "baseline"

    codec_info, plans = _plans(codecs, smoke=smoke, threads=threads, weights=weights, priors=priors,
                               vqv_options=vqv_options, vqv_label=vqv_label, log=log)
    points, rss = _measure(plans, clips, codec_info, progress=progress, log=log)
    report.write_points_csv(points, out / "points.csv")
    per_codec, speed = _curves(points, codec_info, threads=threads, baseline=baseline, log=log)
    peer_names = [n for n in PEERS if n in per_codec]
    bd, matched_grid, matched_vqv = compare(per_codec, peer_names)
    ceiling = _yuv420_ceiling(clips)

    summary = {
        "protocol": {**_protocol(clips, frames, input_spec, smoke), "memory": rss.method},
        "threads": {"peers": PEER_THREADS, "torch": threads},
        "machine": machine_info(),
        "codecs": codec_info,
        "speed": speed,
        "yuv420_ceiling": ceiling,
        "curves": per_codec,
        "bd": bd,
        "matched_bpp": matched_grid,
        "matched_vqv": matched_vqv,
    }
    if baseline is not None:
        summary["baseline"] = _against_baseline(baseline, baseline_label, per_codec, peer_names)
    report.write_summary(summary, out)
    if per_codec:
        report.plot(per_codec, out, len(clips), summary["yuv420_ceiling"], frames=frames, vqv_label=vqv_label,
                    baseline=baseline["curves"] if baseline is not None else None,
                    baseline_label=baseline_label or "baseline")
    return summary


def _plans(codecs: Sequence[str], *, smoke: bool, threads: int, weights: str | None, priors: list[str] | None,
           vqv_options: dict | None, vqv_label: str | None, log: Callable[[str], None]
           ) -> tuple[dict[str, dict], list[tuple[str, object, list]]]:
    """What each codec will run: summary.json's ``codecs`` entries (a peer PyAV cannot run is skipped
    with the reason) and ``(codec, (peer, decoder) or VqvHook, settings)`` for every codec that runs."""
    codec_info: dict[str, dict] = {}
    plans: list[tuple[str, object, list]] = []  # (codec, (peer, decoder) or VqvHook, settings)
    for name in codecs:
        if name == "vqv":
            continue
        peer = PEERS[name]
        dec, why = check_peer(peer, PROTOCOL_FPS)
        if dec is None:
            log(f"{name} skipped: {why}")
            codec_info[name] = {"skipped": why}
            continue
        settings = list(peer.smoke if smoke else peer.settings)
        codec_info[name] = {"encoder": peer.encoder, "decoder": dec, "pix_fmt": PEER_PIX_FMT,
                            "options": dict(peer.base_options), "param": peer.param, "settings": settings,
                            "threads": PEER_THREADS}
        plans.append((name, (peer, dec), settings))
    if "vqv" in codecs:
        vqv = load_vqv(weights, priors, vqv_options)
        qs = vqv.qualities if not smoke else sorted({vqv.qualities[0], vqv.qualities[-1]})
        codec_info["vqv"] = {"qualities": qs, "priors_requested": vqv.priors, "threads": threads,
                             "weights": weights or "default", "options": dict(vqv.options), **vqv.describe}
        if vqv_label:
            codec_info["vqv"]["label"] = vqv_label
        plans.append(("vqv", vqv, [(q, p) for q in qs for p in vqv.priors]))
    return codec_info, plans


def _measure(plans: list[tuple[str, object, list]], clips: list[Clip], codec_info: dict[str, dict], *,
             progress: bool, log: Callable[[str], None]) -> tuple[list[dict], PeakRSS]:
    """Every plan on every clip: the points, sorted by codec, setting and clip (each codec's peak RSS
    and wall time go into ``codec_info``)."""
    rss = PeakRSS()
    points: list[dict] = []
    total = sum(len(settings) for _, _, settings in plans) * len(clips)
    bar = tqdm(total=total, file=sys.stderr, disable=not progress, unit="pt", dynamic_ncols=True)
    for name, handler, settings in plans:
        rss.start()
        t_codec = time.perf_counter()
        if name == "vqv":
            run_vqv(handler, settings, clips, points, codec_info["vqv"], bar, log)
        else:
            _run_peer(*handler, settings, clips, points, bar)
        codec_info[name]["peak_rss_mb"] = round(rss.peak_mb(), 1)
        codec_info[name]["wall_seconds"] = round(time.perf_counter() - t_codec, 2)
    bar.close()
    points.sort(key=lambda p: (p["codec"], setting_key(p["setting"]), p["clip"]))
    return points, rss


def _curves(points: list[dict], codec_info: dict[str, dict], *, threads: int, baseline: dict | None,
            log: Callable[[str], None]) -> tuple[dict[str, list[dict]], dict[str, dict]]:
    """points.csv's points -> the mean curve and the speed of every codec, vqv-best, and the
    baseline's curves of the peers this run did not measure."""
    per_codec = aggregate(points)
    speed = {c: {"enc_fps": e, "dec_fps": d, "threads": threads if c.startswith("vqv") else PEER_THREADS}
             for c, (e, d) in codec_speed(points).items()}
    if any(c.startswith("vqv-") for c in per_codec):
        per_codec["vqv-best"] = vqv_best(per_codec)
    if baseline is not None:
        for name in PEERS:  # peers not measured in this run: the baseline's curves
            if name not in per_codec and baseline["curves"].get(name):
                per_codec[name] = baseline["curves"][name]
                codec_info[name] = {**(baseline["codecs"].get(name) or {}), "from_baseline": baseline["path"]}
                if baseline["speed"].get(name):
                    speed[name] = {**baseline["speed"][name], "from_baseline": True}
                log(f"{name}: curve taken from the baseline {baseline['path']}")
    return per_codec, speed


def _yuv420_ceiling(clips: list[Clip]) -> dict:
    """What the RGB -> YUV 4:2:0 -> RGB conversion alone costs, mean over the clips."""
    ceiling_p, ceiling_s = [], []
    for clip in clips:
        rt = yuv420_roundtrip(clip.frames)
        ceiling_p.append(M.psnr(clip.frames, rt, cap=M.PSNR_CAP))
        ceiling_s.append(M.ssim(clip.frames, rt))
    return {"psnr": float(np.mean(ceiling_p)), "ssim": float(np.mean(ceiling_s))}


def _against_baseline(baseline: dict, baseline_label: str, per_codec: dict, peer_names: list[str]) -> dict:
    """summary.json's ``baseline``: every vqv curve of this run against the baseline's."""
    return {
        "path": baseline["path"], "label": baseline_label, "vqv": baseline["codecs"].get("vqv"),
        "curves": {c: r for c, r in baseline["curves"].items() if c.startswith("vqv")},
        "bd": "anchor = the baseline's same-named vqv curve, test = this run's; bd_rate < 0 means this run "
              "needs fewer bits; max_psnr_loss.db > 0 is the largest PSNR shortfall of any point of this run "
              "against the baseline curve interpolated (linearly in log-rate) at that point's own rate",
        "vs": compare_baseline(per_codec, baseline["curves"]),
        # the baseline's vqv-best against the same peer curves, recomputed with this module
        "bd_vs_peers": compare({c: r for c, r in baseline["curves"].items()
                                if c == "vqv-best" or c in peer_names}, peer_names)[0].get("vqv-best", {}),
    }


def _run_peer(peer: Peer, decoder: str, settings: list[int], clips: list[Clip], points: list[dict], bar) -> None:
    for clip in clips:
        for value in settings:
            bar.set_description(f"{peer.name} {peer.param}={value}")
            r = encode_peer(peer, clip.frames, PROTOCOL_FPS, value, decoder=decoder)
            points.append(make_point(peer.name, f"{peer.param}={value}", clip, r.n_bytes, r.raw_bytes, r.decoded,
                                     r.enc_seconds, r.dec_seconds))
            bar.update(1)


def _protocol(clips: list[Clip], frames: int, input_spec: str, smoke: bool) -> dict:
    """summary.json's ``protocol``: what was measured and how (without the memory method)."""
    lengths = {len(c.frames) for c in clips}
    return {"fps": str(PROTOCOL_FPS), "size": PROTOCOL_SIZE, "frames": frames,
            "crop": "centre square, resized to 64x64", "input": input_spec,
            "clips": [c.name for c in clips], "smoke": smoke,
            **({"clip_lengths": sorted(lengths)} if lengths != {frames} else {}),
            "padded_clips": {c.name: c.real_frames for c in clips
                             if c.real_frames is not None and c.real_frames < len(c.frames)},
            "peer_pixel_format": f"{PEER_PIX_FMT} (BT.601 limited range); the RGB->YUV420->RGB loss "
                                 "counts as the peer's distortion",
            "peer_bytes": "sum of elementary-stream packet sizes, no container, minus x264 SEI (NAL 6) "
                          "and x265 banner SEI (NAL 39); the decoder is fed the stripped stream",
            "vqv_bytes": "whole .vqv file size",
            "psnr": "10*log10(255^2/MSE) over the whole clip's RGB samples, capped at "
                    f"{M.PSNR_CAP} dB; mean over clips",
            "ssim": "per frame and RGB channel, 11x11 Gaussian window sigma 1.5; mean over frames, "
                    "then over clips",
            "bd": f"bjontegaard {BD_METHOD} on the per-setting mean curves (monotone points only); "
                  "anchor = peer, test = vqv; bd_rate < 0 means vqv needs fewer bits; NaN (null) "
                  f"when the curves overlap < {MIN_BD_OVERLAP:.0%}",
            "speed": "frames per second of one clip: encode includes RGB->YUV conversion, decode "
                     "includes YUV->RGB; aggregated as total frames / total seconds"}
