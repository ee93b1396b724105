"""Write the conditional coders' file the codec ships (vqcodec/weights/vqv-conditional-coder-<sha>.pt) from
pca_start.py's checkpoints, and list it in vqcodec/weights/conditional_coders.json as the default.

Per coder: the network's weights (what the codec's vqcodec.net.conditional_coder runs; the training-only
P-conditioned scales are left out) and its static entropy tables: per latent channel and activity context
(EDGES: the context of a block's channel c is how many edges the sum of the magnitudes of its symbols of
channels 0..c-1 reaches; vqcodec.coding.motion_residual.CoderTables) the Laplace scale of least bits on the
symbols of 400 training pairs (the channel's over all contexts where a context has fewer than MIN_SAMPLES),
turned into integer counts of the symbols -LIMIT..LIMIT once here (the mass beyond folded into the ends), so
that a decoder builds the same tables everywhere. EDGES= (empty): one context, as session 21's file.

    CC_WORK=/work/s22/ship CC_MODELS=pca_0.0004_trained,pca_0.001_trained,pca_0.003_trained,pca_0.01_trained \
        PYTHONPATH=. python experiments/conditional_coder/ship.py
(CC_WORK: a folder with the checkpoints and pairs.npz; OUT=path writes there and lists nothing.)
"""
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pca_start as S  # noqa: E402

from vqcodec.io.files import sha256_file  # noqa: E402
from vqcodec.net.conditional_coder import ConditionalCoderNet  # noqa: E402
from vqcodec.weights import CODER_FORMAT, CODER_VERSION, CODERS_MANIFEST, WEIGHTS_DIR, load_conditional_coder  # noqa: E402

LIMIT = 63                  # symbols beyond +-63 never occurred (max |y| 26 on 200 training pairs)
COUNT_SCALE = 1 << 30
EDGES = [int(v) for v in os.environ.get("EDGES", "1,2,3,5,8,12,18,27,40").split(",") if v]
MIN_SAMPLES = 50
GRID = np.exp(np.linspace(np.log(0.05), np.log(50.0), 120))      # pca_start.static_scales' grid


def laplace_counts(scale: float) -> np.ndarray:
    k = np.arange(-LIMIT, LIMIT + 1, dtype=np.float64)

    def cdf(t):
        return 0.5 + 0.5 * np.sign(t) * (1 - np.exp(-np.abs(t) / scale))
    p = cdf(k + 0.5) - cdf(k - 0.5)
    p[0] += cdf(-LIMIT - 0.5)
    p[-1] += 1 - cdf(LIMIT + 0.5)
    return np.maximum(np.rint(p * COUNT_SCALE), 1).astype(np.int64)


GRID_BITS = np.stack([-np.log2(laplace_counts(b) / COUNT_SCALE) for b in GRID])   # (grid, 2 LIMIT + 1)


def best_scale(v: np.ndarray) -> float:
    """The Laplace scale of the grid with the least bits for the integer symbols ``v``."""
    hist = np.bincount(np.clip(v, -LIMIT, LIMIT) + LIMIT, minlength=2 * LIMIT + 1)
    return float(GRID[int(np.argmin(GRID_BITS @ hist))])


@torch.no_grad()
def context_scales(cc, pairs) -> np.ndarray:
    """(channels, contexts) Laplace scales of ``cc``'s rounded symbols on 400 training pairs (those of
    pca_start.static_prior), per activity context."""
    fit = np.random.default_rng(4).choice(len(pairs["x"]), 400, replace=False)
    cc.record = []
    cc(S._t(pairs["x"][fit]), S._t(pairs["p"][fit]), noise=False)
    y = cc.record[0].permute(0, 2, 3, 1).reshape(-1, S.K).numpy().astype(np.int64)
    cc.record = None
    mag = np.abs(y)
    ctx = np.searchsorted(np.asarray(EDGES, np.int64), np.cumsum(mag, 1) - mag, side="right")
    out = np.zeros((S.K, len(EDGES) + 1))
    for c in range(S.K):
        whole = best_scale(y[:, c])
        for k in range(len(EDGES) + 1):
            v = y[ctx[:, c] == k, c]
            out[c, k] = best_scale(v) if len(v) >= MIN_SAMPLES else whole
    return out


def main() -> None:
    pairs = np.load(S.WORK / "pairs.npz")
    keep = set(ConditionalCoderNet().state_dict())
    coders = []
    for name in os.environ.get("CC_MODELS", "pca_0.001_trained,pca_0.003_trained").split(","):
        cc, steps = S.load(S.WORK / f"{name}.pt")
        scales = context_scales(cc, pairs)
        lam = float(torch.load(S.WORK / f"{name}.pt", weights_only=True)["lam"])
        state = {k: v.detach().float().contiguous() for k, v in cc.state_dict().items() if k in keep}
        counts = torch.from_numpy(np.stack([[laplace_counts(b) for b in row] for row in scales]))
        coders.append({"lambda": lam, "steps": int(steps), "state": state, "counts": counts})
        print(f"{name}: lambda {lam}, {steps} steps, scales {scales.min():.3f}..{scales.max():.3f}")
    tmp = WEIGHTS_DIR / "vqv-conditional-coder.tmp"
    torch.save({"format": CODER_FORMAT, "version": CODER_VERSION, "channels": S.K, "width": 64, "features": 32,
                "limit": LIMIT, "edges": EDGES, "coders": coders}, tmp)
    sha = sha256_file(tmp)
    if os.environ.get("OUT"):                  # a trial file, not listed
        tmp.replace(os.environ["OUT"])
        print(f"wrote {os.environ['OUT']} (sha {sha[:16]})")
        return
    out = WEIGHTS_DIR / f"vqv-conditional-coder-{sha[:8]}.pt"     # a new file each time: the old ones' files decode
    tmp.replace(out)
    listing = json.loads(CODERS_MANIFEST.read_text()) if CODERS_MANIFEST.is_file() else {}
    before = listing.get("default")
    if before is not None and before["sha256"] != sha:        # earlier defaults stay listed
        listing[Path(before["file"]).stem] = before
    listing["default"] = {"file": out.name, "sha256": sha}
    CODERS_MANIFEST.write_text(json.dumps(listing, indent=2) + "\n")
    coder = load_conditional_coder(out)
    print(f"wrote {out} ({out.stat().st_size} bytes, digest {coder.digest.hex()}), {coder.coders} coders")


if __name__ == "__main__":
    main()
