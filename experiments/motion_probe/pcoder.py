"""Motion probe, measurement 3: vqv's bits per bottom-grid block (``vqv_position_bits``) and the
DVC-style P-slice coder in pixels (``p_slice_coder``)."""
from __future__ import annotations

import math

import numpy as np

from experiments.motion_probe.clips import psnr_mse
from experiments.motion_probe.models import (
    Bin,
    ResidualModel,
    VectorModel,
    median_predictor,
)
from experiments.motion_probe.prediction import phases, predict_frame, search

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

def later_shares(vqv_bits: float, slice0_bits: float, pos_bits: np.ndarray | None,
                 shape: tuple[int, int, int]) -> np.ndarray:
    """vqv's bits after slice 0 (the GOP's file minus the 4-frame file), per block (slice, gh, gw): in
    proportion to where the GOP's bits went (pos_bits), or evenly (pos_bits None)."""
    n_slices, gh, gw = shape
    n_later = n_slices - 1
    later = max(vqv_bits - slice0_bits, 0.0)
    if pos_bits is None or pos_bits[1:].sum() <= 0:
        return np.full(shape, later / (n_later * gh * gw))
    return later * pos_bits / pos_bits[1:].sum()


def slice_candidates(x: np.ndarray, ref: np.ndarray, t0: int, basis, taps: np.ndarray, step_num: int,
                     limit: int, rng: int, subpel: bool, vectors: str, pen: float) -> dict:
    """Slice ``x[t0:t0+bt]``'s MC candidates from decoded frame ``ref``: vectors, the prediction and
    the prediction plus quantised PCA residual (as blocks), their residual symbols and distortions."""
    from vqcodec.codes import STEP_DEN
    from vqcodec.coding.enhancement import quantise, to_blocks
    _, h, w, _ = x.shape
    bt, bh, _ = basis.block
    step = step_num / STEP_DEN
    ph = phases(ref, taps)
    if vectors == "slice":
        v = search([ph] * bt, [x[t0 + k] for k in range(bt)], [k + 1 for k in range(bt)], bh, rng, subpel,
                   penalty=pen)[:, None]                                # (n, 1, 2)
        disp = [v[:, 0] * (k + 1) for k in range(bt)]
    else:
        v = np.stack([search([ph], [x[t0 + k]], [1], bh, rng * (k + 1), subpel, penalty=pen)
                      for k in range(bt)], 1)                           # (n, bt, 2)
        disp = [v[:, k] for k in range(bt)]
    pred = np.stack([predict_frame(ph, disp[k], bh, h, w) for k in range(bt)]).astype(np.uint8)
    coef = basis.coefficients(x[t0:t0 + bt], pred)                      # (K, 1, gh, gw)
    sym = quantise(coef, step_num, limit)
    rec = basis.apply(pred, sym, step)
    return {"v": v, "sym": sym,
            "pb": to_blocks(pred, basis.block)[0], "rb": to_blocks(rec, basis.block)[0],
            "pred_f": to_blocks(pred.astype(np.float64), basis.block)[0],
            "rec_f": to_blocks(rec.astype(np.float64), basis.block)[0]}


class SliceCoder:
    """The adaptive models and bit/mode tallies of one P-slice coder run; ``code_block`` chooses one
    block's mode by D + lam R (greedy, raster order) and updates them."""

    def __init__(self, channels: int, slice0_bits: float, lam: float):
        self.mode_m, self.cbf_m = Bin(3), Bin(1)
        self.res_m, self.vec_m = ResidualModel(channels), VectorModel()
        self.bits = {"slice0": float(slice0_bits), "vqv_blocks": 0.0, "flags": 0.0, "vectors": 0.0,
                     "residual": 0.0}
        self.modes = {"vqv": 0, "mc_skip": 0, "mc_residual": 0}
        self.lam = lam

    def code_block(self, by: int, bx: int, gw: int, vecs: dict, v_i: np.ndarray, sy: np.ndarray,
                   share: float, d: tuple[float, float, float]) -> int:
        """Mode of block (by, bx): 0 vqv, 1 MC skip, 2 MC + residual; ``d`` their distortions."""
        lam, bits = self.lam, self.bits
        ctx = int((by, bx - 1) in vecs) + int((by - 1, bx) in vecs)
        r_vqv = share + self.mode_m.cost(0, ctx)
        mvd = [v_i[j] - median_predictor({p: u[j] for p, u in vecs.items()}, by, bx, gw)
               for j in range(v_i.shape[0])]
        r_vec = self.vec_m.cost_seq(mvd)
        r_mc = self.mode_m.cost(1, ctx) + r_vec
        r_skip = r_mc + self.cbf_m.cost(0)
        js = [d[0] + lam * r_vqv, d[1] + lam * r_skip]
        if np.any(sy):
            r_res_only = self.res_m.cost(sy)
            r_res = r_mc + self.cbf_m.cost(1) + r_res_only
            js.append(d[2] + lam * r_res)
        c = int(np.argmin(js))
        if c == 0:
            bits["vqv_blocks"] += share
            bits["flags"] += r_vqv - share
            self.mode_m.update(0, ctx)
            self.modes["vqv"] += 1
            return c
        bits["flags"] += self.mode_m.cost(1, ctx) + self.cbf_m.cost(int(c == 2))
        bits["vectors"] += r_vec
        self.mode_m.update(1, ctx)
        for dv in mvd:
            self.vec_m.update(dv)
        vecs[(by, bx)] = v_i
        self.cbf_m.update(int(c == 2))
        if c == 2:
            bits["residual"] += r_res_only
            self.res_m.update(sy)
            self.modes["mc_residual"] += 1
        else:
            self.modes["mc_skip"] += 1
        return c

    def code_slice(self, cand: dict, xb: np.ndarray, vb: np.ndarray, out: np.ndarray,
                   shares: np.ndarray) -> np.ndarray:
        """One slice's blocks in raster order; ``out`` (vqv's blocks) gets the chosen MC blocks."""
        gh, gw = xb.shape[:2]
        v, sym = cand["v"], cand["sym"]
        d_vqv = ((xb - vb) ** 2).sum(-1)
        d_skip = ((xb - cand["pred_f"]) ** 2).sum(-1)
        d_res = ((xb - cand["rec_f"]) ** 2).sum(-1)
        vecs: dict = {}
        for by in range(gh):
            for bx in range(gw):
                i = by * gw + bx
                c = self.code_block(by, bx, gw, vecs, v[i], sym[:, 0, by, bx], shares[by, bx],
                                    (d_vqv[by, bx], d_skip[by, bx], d_res[by, bx]))
                if c == 2:
                    out[by, bx] = cand["rb"][by, bx]
                elif c == 1:
                    out[by, bx] = cand["pb"][by, bx]
        return out


def p_slice_coder(x: np.ndarray, slice0: np.ndarray, slice0_bits: float, vqv_rec: np.ndarray,
                  vqv_bits: float, pos_bits: np.ndarray | None, basis, e_step: float, lam: float, rng: int, subpel: bool,
                  taps: np.ndarray, vectors: str = "slice", limit: int = 4095) -> dict:
    """Slices 1.. of one GOP coded block by block (4x8x8, raster order, greedy) by D + lam R among
    vqv (its reconstruction at its share of the bits vqv spent after slice 0), MC prediction from
    the last decoded frame of the slice before (``vectors="slice"``: one quarter-pel velocity per
    block, frame k of the slice displaced by (k+1) v; ``"frame"``: four vectors per block, frame k's
    searched over +-(k+1) rng px), and MC + PCA residual at step ``e_step``."""
    from vqcodec.codes import STEP_DEN
    from vqcodec.coding.enhancement import from_blocks, to_blocks
    t_, h, w, _ = x.shape
    bt, bh, bw = basis.block
    gh, gw = h // bh, w // bw
    n_later = t_ // bt - 1
    shares = later_shares(vqv_bits, slice0_bits, pos_bits, (t_ // bt, gh, gw))
    step_num = int(round(e_step * STEP_DEN))
    dec = np.empty_like(x)
    dec[:bt] = slice0
    coder = SliceCoder(basis.channels, slice0_bits, lam)
    pen = math.sqrt(lam)
    xb_all = to_blocks(x.astype(np.float64), basis.block)              # (T', gh, gw, D)
    vb_all = to_blocks(vqv_rec.astype(np.float64), basis.block)
    for s in range(1, t_ // bt):
        t0 = s * bt
        cand = slice_candidates(x, dec[t0 - 1], t0, basis, taps, step_num, limit, rng, subpel, vectors, pen)
        out = to_blocks(vqv_rec[t0:t0 + bt], basis.block)[0].copy()
        out = coder.code_slice(cand, xb_all[s], vb_all[s], out, shares[s])
        dec[t0:t0 + bt] = from_blocks(out[None], basis.block)
    bits, modes = coder.bits, coder.modes
    total = sum(bits.values())
    mse = float(((x.astype(np.float64) - dec) ** 2).mean())
    n_blocks = n_later * gh * gw
    return {"bits": total, "bpp": total / (t_ * h * w), "psnr": psnr_mse(mse), "bits_by_kind": bits,
            "mode_share": {k: v / n_blocks for k, v in modes.items()}}
