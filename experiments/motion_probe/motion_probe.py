"""Motion probe (issue 20, "Predict motion"): what would a motion-compensated prediction mode buy vqv?

Three measurements on 64x64 16 fps clips (the benchmark's cut, ``benchmarks/clips.py``: centre square
crop resized by ``vqcodec.train.data``'s evaluation dataset, which reads through ``vqcodec.io.reader``):

1. **baseline**: vqv as shipped at a few qualities: real file bytes, bpp, PSNR of ``decode_bytes``.
2. **oracle prediction ceiling** on vqv's own decoded frames: every 8x8 block of every frame t >= 1
   predicted from decoded frame t-1 at the same place, with the best integer vector (SAD, +-R px)
   and with a quarter-pel vector (bilinear or HEVC's 8-tap luma filter), one vector per block per
   frame or one per block per 4-frame slice; plus the causal form a slice coder can use (all four
   frames of slice s from the last decoded frame of slice s-1, constant velocity).
3. **a DVC-style P-slice coder in pixels**: slice 0 of the GOP coded by vqv (a real 4-frame vqv
   file), then every 4x8x8 block of slices 1..7 chosen by D + lambda R among vqv's reconstruction
   (at its share of the GOP's remaining bits), motion-compensated prediction alone, or prediction
   plus a residual on the enhancement layer's PCA basis quantised with the dead-zone ``quantise``;
   rates are ideal adaptive code lengths (models start empty, coded in raster order), no oracle
   statistics. BD-rate against the baseline curve per clip group.

See README.md beside this file for the simplifications and the results.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from experiments.motion_probe.clips import (
    TRAIN_CLIPS_DEFAULT,
    VAL_SPEC_DEFAULT,
    load_clips,
    mean_abs_frame_diff,
    psnr_mse,
)
from experiments.motion_probe.pcoder import p_slice_coder, vqv_position_bits
from experiments.motion_probe.prediction import FILTERS, oracle

# ----------------------------------------------------------------------------------------- BD, curves

def pareto(points: list[tuple[float, float]]) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for r, d in sorted(points):
        if xs and r <= xs[-1]:
            ys[-1] = max(ys[-1], d)
            continue
        if ys and d <= ys[-1]:
            continue
        xs.append(r)
        ys.append(d)
    return xs, ys


def bd_rate(anchor: tuple[list, list], test: tuple[list, list], method: str) -> dict:
    import bjontegaard
    ra, da = pareto(list(zip(*anchor)))
    rt, dt = pareto(list(zip(*test)))
    lo, hi = max(min(da), min(dt)), min(max(da), max(dt))
    out = {"anchor": [ra, da], "test": [rt, dt], "shared_psnr_range": [lo, hi]}
    if len(ra) < 2 or len(rt) < 2 or hi <= lo:
        out["bd_rate_pct"] = None
        return out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out["bd_rate_pct"] = float(bjontegaard.bd_rate(ra, da, rt, dt, method=method, require_matching_points=False))
        out["bd_psnr_db"] = float(bjontegaard.bd_psnr(ra, da, rt, dt, method=method, require_matching_points=False))
    return out


# ---------------------------------------------------------------------------------------------- main

def floats(s: str) -> list[float]:
    return [float(v) for v in s.split(",") if v]


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--data", default=VAL_SPEC_DEFAULT, help="corpus:DIR data spec")
    ap.add_argument("--cache-dir", default="/tmp/motion_probe_cache", help="frame cache (outside the repo)")
    ap.add_argument("--train-clips", default=TRAIN_CLIPS_DEFAULT,
                    help="comma-separated name@start training-split clips with motion")
    ap.add_argument("--max-val-clips", type=int, default=3)
    ap.add_argument("--frames", type=int, default=32, help="frames per clip (one GOP at 32)")
    ap.add_argument("--qualities", default="4,6,8,10,12", help="vqv qualities: baseline and P-coder base")
    ap.add_argument("--oracle-qualities", default="4,8,12", help="qualities whose decoded frames the oracle uses")
    ap.add_argument("--filters", default="8tap,bilinear", help="oracle sub-pel filters (first = P-coder's)")
    ap.add_argument("--range", type=int, default=6, help="search range in px (per frame of motion)")
    ap.add_argument("--enh-steps", default="32,48,64,96,128", help="residual steps E (8-bit units)")
    ap.add_argument("--lambda-scales", default="0.1,0.25", help="lambda = scale * E^2 (SSE per bit)")
    ap.add_argument("--pcoder-qualities", default="4,8,10,12", help="qualities the P-coder builds on")
    ap.add_argument("--extra-enh-steps", default="32,64,128", help="residual steps of the extra sweeps below")
    ap.add_argument("--int-pel-scales", default="0.25",
                    help="lambda scales of an extra integer-pel P-coder sweep (one vector per slice; '' = none)")
    ap.add_argument("--frame-vector-scales", default="0.25",
                    help="lambda scales of an extra quarter-pel sweep with four vectors per block (one per "
                         "frame, each from the slice's reference; '' = none)")
    ap.add_argument("--even-share-scales", default="0.25",
                    help="lambda scales of an extra quarter-pel sweep where vqv's blocks cost an even share of "
                         "its later bits instead of their estimated own ('' = none)")
    ap.add_argument("--bd-method", default="akima", choices=("akima", "pchip"))
    ap.add_argument("--groups", default="validation,train_motion", help="clip groups to run")
    ap.add_argument("--merge", nargs="+", metavar="JSON",
                    help="instead of measuring: merge the results of runs of different --groups into --out")
    ap.add_argument("--report", action="store_true", help="print README tables from --out and exit")
    ap.add_argument("--out", default=str(Path(__file__).with_name("result.json")))
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    return ap


def merge(args) -> int:
    """--merge: the results of runs of different --groups into --out."""
    parts = [json.loads(Path(f).read_text()) for f in args.merge]
    result = {**parts[0], "clips": {}, "groups": {}, "merged_from": args.merge,
              "run_seconds_per_part": [r["run_seconds"] for r in parts]}
    result.pop("run_seconds", None)
    for r in parts:
        result["clips"].update(r["clips"])
        result["groups"].update(r["groups"])
    Path(args.out).write_text(json.dumps(result, indent=1, default=float))
    return 0


def settings(args) -> dict:
    """The parsed lists of the command line's comma-separated options."""
    return {"quals": [int(q) for q in args.qualities.split(",")],
            "oq": [int(q) for q in args.oracle_qualities.split(",") if q],
            "filters": args.filters.split(","),
            "steps": floats(args.enh_steps), "scales": floats(args.lambda_scales),
            "int_scales": floats(args.int_pel_scales),
            "pq": [int(q) for q in args.pcoder_qualities.split(",") if q],
            "xsteps": floats(args.extra_enh_steps),
            "want": args.groups.split(","),
            "fv_scales": floats(args.frame_vector_scales),
            "even_scales": floats(args.even_share_scales)}


def load_groups(args, want: list[str], log) -> dict:
    cache = Path(args.cache_dir)
    groups = {}
    if "validation" in want:
        groups["validation"] = load_clips(args.data, "val", cache, args.frames, None, log)[:args.max_val_clips]
    if "train_motion" in want:
        groups["train_motion"] = load_clips(args.data, "train", cache, args.frames,
                                            [c for c in args.train_clips.split(",") if c], log)
    return groups


def pcoder_runs(cfg: dict) -> list[tuple]:
    """(variant, E, lambda scale, subpel, vectors) of every P-coder run at one quality."""
    steps, scales, xsteps = cfg["steps"], cfg["scales"], cfg["xsteps"]
    return ([("qpel", e, sc, True, "slice") for e in steps for sc in scales]
            + [("int", e, sc, False, "slice") for e in xsteps for sc in cfg["int_scales"]]
            + [("qpel_frame_vectors", e, sc, True, "frame") for e in xsteps for sc in cfg["fv_scales"]]
            + [("qpel_even_share", e, sc, True, "slice") for e in xsteps for sc in cfg["even_scales"]])


def measure_quality(c: dict, q: int, entry: dict, args, cfg: dict, model, log) -> None:
    """Baseline, oracle and P-coder measurements of clip ``c`` at vqv quality ``q`` into ``entry``."""
    from vqcodec.coding.decoder import decode_bytes
    from vqcodec.coding.encoder import encode_frames
    basis = model.ladder.basis
    x = c["frames"]
    t_, h, w, _ = x.shape
    data = encode_frames(x, 16, model=model, quality=q)
    rec = decode_bytes(data, model=model)
    d0 = encode_frames(x[:4], 16, model=model, quality=q)
    rec0 = decode_bytes(d0, model=model)
    mse = float(((x.astype(np.float64) - rec) ** 2).mean())
    entry["baseline"][q] = {"bytes": len(data), "bpp": 8 * len(data) / (t_ * h * w),
                            "psnr": psnr_mse(mse), "slice0_file_bytes": len(d0),
                            "slice0_psnr": psnr_mse(float(((x[:4].astype(np.float64) - rec0) ** 2).mean()))}
    log(f"{c['name']} Q{q}: {len(data)} B, {entry['baseline'][q]['psnr']:.2f} dB; 4-frame file {len(d0)} B")
    if q in cfg["oq"]:
        entry["oracle"][q] = oracle(x, rec, args.range, cfg["filters"])
        o = entry["oracle"][q]
        log("  oracle " + ", ".join(f"{k} {v['psnr_pred']:.2f}/{v['share_pred_le_vqv']:.2f}"
                                   for k, v in o.items()))
    if q not in cfg["pq"]:
        return
    runs = pcoder_runs(cfg)
    pos_bits = vqv_position_bits(data, model, basis.grid(*x.shape[:3]))
    entry["baseline"][q]["later_slices_bit_share_by_slice"] = (pos_bits.sum((1, 2)) / pos_bits.sum()).tolist()
    for variant, e, sc, subpel, vectors in runs:
        pb = None if variant == "qpel_even_share" else pos_bits
        r = p_slice_coder(x, rec0, 8 * len(d0), rec, 8 * len(data), pb, basis, e, sc * e * e,
                          args.range, subpel, FILTERS[cfg["filters"][0]], vectors)
        r.update({"quality": q, "enh_step": e, "lambda_scale": sc, "variant": variant})
        entry["pcoder"].append(r)
    best = max((r for r in entry["pcoder"] if r["quality"] == q and r["variant"] == "qpel"),
               key=lambda r: r["psnr"])
    log(f"  P-coder Q{q}: {len(runs)} runs; e.g. E={best['enh_step']} {best['bpp']:.3f} bpp "
        f"{best['psnr']:.2f} dB modes {best['mode_share']}")


def measure(args) -> int:
    """Run the three measurements on the chosen clip groups and write --out."""
    import torch
    torch.set_num_threads(args.threads)
    from vqcodec.weights import load_model

    t_start = time.time()
    log = lambda m: print(f"[{time.time() - t_start:7.1f}s] {m}", file=sys.stderr, flush=True)
    model = load_model()
    basis = model.ladder.basis
    cfg = settings(args)
    quals, oq = cfg["quals"], cfg["oq"]
    groups = load_groups(args, cfg["want"], log)
    result = {"args": vars(args), "model": str(model.path), "basis_block": list(basis.block),
              "basis_channels": basis.channels, "clips": {}, "groups": {}}
    for gname, clips in groups.items():
        for c in clips:
            x, n = c["frames"], c["real_frames"]
            entry = {"group": gname, "real_frames": n, "mean_abs_frame_diff": mean_abs_frame_diff(x, n),
                     "baseline": {}, "oracle": {}, "pcoder": []}
            for q in quals:
                measure_quality(c, q, entry, args, cfg, model, log)
            result["clips"][c["name"]] = entry
        result["groups"][gname] = summarise(result, gname, quals, oq, args.bd_method)
        log(f"{gname}: BD-rate vs vqv " + ", ".join(f"{k} {v.get('bd_rate_pct')}" for k, v in result["groups"][gname]["bd"].items()))
    result["run_seconds"] = time.time() - t_start
    Path(args.out).write_text(json.dumps(result, indent=1, default=float))
    log(f"wrote {args.out}")
    return 0


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.report:
        print(report(json.loads(Path(args.out).read_text())))
        return 0
    if args.merge:
        return merge(args)
    return measure(args)


def summarise(result: dict, gname: str, quals: list[int], oq: list[int], method: str) -> dict:
    clips = [c for c in result["clips"].values() if c["group"] == gname]
    n = len(clips)
    base = ([sum(c["baseline"][q]["bpp"] for c in clips) / n for q in quals],
            [sum(c["baseline"][q]["psnr"] for c in clips) / n for q in quals])
    out = {"clips": [k for k, c in result["clips"].items() if c["group"] == gname],
           "mean_abs_frame_diff": [c["mean_abs_frame_diff"] for c in clips],
           "baseline_curve": {"qualities": quals, "bpp": base[0], "psnr": base[1]}, "oracle": {}, "bd": {}}
    for q in oq:
        keys = clips[0]["oracle"][q].keys()
        out["oracle"][q] = {k: {m: sum(c["oracle"][q][k][m] for c in clips) / n
                                for m in ("psnr_pred", "psnr_vqv_same_frames", "share_pred_le_vqv")} for k in keys}
    configs = {}
    for c in clips:
        for r in c["pcoder"]:
            configs.setdefault((r["quality"], r["enh_step"], r["lambda_scale"], r["variant"]), []).append(r)
    points = []
    for (q, e, sc, var), rs in configs.items():
        if len(rs) != n:
            continue
        bits = {k: sum(r["bits_by_kind"][k] for r in rs) / sum(r["bits"] for r in rs) for k in rs[0]["bits_by_kind"]}
        points.append({"quality": q, "enh_step": e, "lambda_scale": sc, "variant": var,
                       "bpp": sum(r["bpp"] for r in rs) / n, "psnr": sum(r["psnr"] for r in rs) / n,
                       "mode_share": {k: sum(r["mode_share"][k] for r in rs) / n for k in rs[0]["mode_share"]},
                       "bit_share_by_kind": bits})
    curve = lambda pts: ([p["bpp"] for p in pts], [p["psnr"] for p in pts])
    for var in dict.fromkeys(p["variant"] for p in points):
        pts = [p for p in points if p["variant"] == var]
        bd = bd_rate(base, curve(pts), method)
        on_front = set(zip(*bd["test"]))
        front = sorted((p for p in pts if (p["bpp"], p["psnr"]) in on_front), key=lambda p: p["bpp"])
        bd["front"] = front
        bd["front_mode_share"] = {k: sum(p["mode_share"][k] for p in front) / len(front) for k in front[0]["mode_share"]}
        bd["front_bit_share_by_kind"] = {k: sum(p["bit_share_by_kind"][k] for p in front) / len(front)
                                         for k in front[0]["bit_share_by_kind"]}
        out["bd"][var] = bd
        # a variant swept at fewer settings against the quarter-pel slice coder at the same settings
        if var != "qpel":
            sc = {(p["quality"], p["enh_step"], p["lambda_scale"]) for p in pts}
            ref = [p for p in points if p["variant"] == "qpel"
                   and (p["quality"], p["enh_step"], p["lambda_scale"]) in sc]
            if ref:
                cmp_ = bd_rate(curve(ref), curve(pts), method)
                out["bd"][f"{var}_vs_qpel_same_lambda"] = {k: cmp_.get(k) for k in
                                                           ("bd_rate_pct", "bd_psnr_db", "shared_psnr_range")}
    return out


def report(r: dict) -> str:
    """Markdown tables of a result.json (the README's)."""
    L = []
    oq = sorted({int(q) for c in r["clips"].values() for q in c["oracle"]})
    L.append("| clip | group | mean abs frame diff | " + " | ".join(f"vqv Q{q} bpp / dB" for q in
             sorted({int(q) for c in r["clips"].values() for q in c["baseline"]})) + " |")
    L.append("|" + "---|" * (3 + len(next(iter(r["clips"].values()))["baseline"])))
    for name, c in r["clips"].items():
        L.append(f"| {name.split('/')[-1]} | {c['group']} | {c['mean_abs_frame_diff']:.2f} | " + " | ".join(
            f"{b['bpp']:.3f} / {b['psnr']:.2f}" for q, b in sorted(c["baseline"].items(), key=lambda kv: int(kv[0]))) + " |")
    L.append("")
    keys = ["same_place", "int_frame", "qpel_frame_8tap", "qpel_frame_bilinear", "int_slice", "qpel_slice_8tap",
            "qpel_slice_bilinear", "qpel_slice_8tap_16x16", "int_causal_slice", "qpel_causal_slice_8tap"]
    L.append("Oracle: PSNR (dB) of the prediction alone / share of 8x8 frame blocks where it is at least as "
             "close to the source as vqv's reconstruction")
    L.append("")
    L.append("| group | Q | vqv itself | " + " | ".join(keys) + " |")
    L.append("|" + "---|" * (3 + len(keys)))
    for g, v in r["groups"].items():
        for q in oq:
            o = v["oracle"].get(str(q), v["oracle"].get(q))
            L.append(f"| {g} | {q} | {o['same_place']['psnr_vqv_same_frames']:.2f} | " + " | ".join(
                f"{o[k]['psnr_pred']:.2f} / {o[k]['share_pred_le_vqv']:.2f}" for k in keys) + " |")
    L.append("")
    L.append("| group | P-coder variant | BD-rate vs vqv | BD-PSNR | shared PSNR range | mode share vqv / MC skip / MC+res "
             "(front mean) | bits: slice0 / vqv blocks / flags / vectors / residual (front mean) |")
    L.append("|---|---|---|---|---|---|---|")
    for g, v in r["groups"].items():
        for var, b in v["bd"].items():
            if "front" not in b:
                continue
            ms, bk = b["front_mode_share"], b["front_bit_share_by_kind"]
            rng = b["shared_psnr_range"]
            L.append(f"| {g} | {var} | {b['bd_rate_pct']:+.1f}% | {b.get('bd_psnr_db', float('nan')):+.2f} dB | "
                     f"{rng[0]:.2f}-{rng[1]:.2f} | {ms['vqv']:.2f} / {ms['mc_skip']:.2f} / {ms['mc_residual']:.2f} | "
                     + " / ".join(f"{bk[k]:.2f}" for k in ("slice0", "vqv_blocks", "flags", "vectors", "residual")) + " |")
    L.append("")
    L.append("| group | comparison at the same (Q, E, lambda) settings | BD-rate | BD-PSNR |")
    L.append("|---|---|---|---|")
    for g, v in r["groups"].items():
        for var, b in v["bd"].items():
            if var.endswith("_same_lambda") and b.get("bd_rate_pct") is not None:
                L.append(f"| {g} | {var.replace('_vs_qpel_same_lambda', '')} vs qpel | {b['bd_rate_pct']:+.1f}% | "
                         f"{b['bd_psnr_db']:+.2f} dB |")
    L.append("")
    for g, v in r["groups"].items():
        b = v["bd"]["qpel"]
        L.append(f"{g} qpel front: " + "; ".join(
            f"Q{p['quality']} E{p['enh_step']:g} c{p['lambda_scale']:g}: {p['bpp']:.3f} bpp {p['psnr']:.2f} dB "
            f"(vqv {p['mode_share']['vqv']:.2f}, skip {p['mode_share']['mc_skip']:.2f}, res {p['mode_share']['mc_residual']:.2f})"
            for p in b["front"]))
        L.append(f"{g} vqv curve: " + "; ".join(f"Q{q}: {a:.3f} bpp {d:.2f} dB" for q, a, d in zip(
            v["baseline_curve"]["qualities"], v["baseline_curve"]["bpp"], v["baseline_curve"]["psnr"])))
    return "\n".join(L)


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
