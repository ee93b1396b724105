"""Write the conditional coders' file the codec ships (vqcodec/weights/vqv-conditional-coder-<sha>.pt) from
pca_start.py's checkpoints, and list it in vqcodec/weights/conditional_coders.json as the default.

Per coder: the network's weights (what the codec's vqcodec.net.conditional_coder runs; the training-only
P-conditioned scales are left out) and its static entropy tables: per latent channel the Laplace scale of
least bits on 400 training pairs (pca_start.static_prior, as as_option.py priced the symbols), turned into
integer counts of the symbols -LIMIT..LIMIT once here (the mass beyond folded into the ends), so that a
decoder builds the same tables everywhere.

    CC_WORK=/work/s21/cc CC_MODELS=pca_0.001_trained,pca_0.003_trained PYTHONPATH=. \
        python experiments/conditional_coder/ship.py
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


def laplace_counts(scale: float) -> np.ndarray:
    k = np.arange(-LIMIT, LIMIT + 1, dtype=np.float64)

    def cdf(t):
        return 0.5 + 0.5 * np.sign(t) * (1 - np.exp(-np.abs(t) / scale))
    p = cdf(k + 0.5) - cdf(k - 0.5)
    p[0] += cdf(-LIMIT - 0.5)
    p[-1] += 1 - cdf(LIMIT + 0.5)
    return np.maximum(np.rint(p * COUNT_SCALE), 1).astype(np.int64)


def main() -> None:
    pairs = np.load(S.WORK / "pairs.npz")
    keep = set(ConditionalCoderNet().state_dict())
    coders = []
    for name in os.environ.get("CC_MODELS", "pca_0.001_trained,pca_0.003_trained").split(","):
        cc, steps = S.load(S.WORK / f"{name}.pt")
        scales = S.static_prior(cc, pairs).flatten().numpy().astype(np.float64)
        lam = float(torch.load(S.WORK / f"{name}.pt", weights_only=True)["lam"])
        state = {k: v.detach().float().contiguous() for k, v in cc.state_dict().items() if k in keep}
        counts = torch.from_numpy(np.stack([laplace_counts(s) for s in scales]))
        coders.append({"lambda": lam, "steps": int(steps), "state": state, "counts": counts})
        print(f"{name}: lambda {lam}, {steps} steps, static scales {scales.min():.3f}..{scales.max():.3f}")
    tmp = WEIGHTS_DIR / "vqv-conditional-coder.tmp"
    torch.save({"format": CODER_FORMAT, "version": CODER_VERSION, "channels": S.K, "width": 64, "features": 32,
                "limit": LIMIT, "coders": coders}, tmp)
    sha = sha256_file(tmp)
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
