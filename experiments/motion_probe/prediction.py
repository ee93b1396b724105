"""Motion probe: quarter-pel interpolation phases, block motion search, prediction, and the
oracle prediction ceiling (measurement 2)."""
from __future__ import annotations

import numpy as np

from experiments.motion_probe.clips import psnr_mse

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

