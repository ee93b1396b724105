"""Regenerate tiny_linear.pt: the `tiny-linear` network (tiny with a linear path, 2 bottom stages)
started as a linear transform code, with no gradient training (by hand, only on purpose: the motion
residual's golden file, golden_residual.vqv, is coded with this model and must be made again after).

    python tests/golden/make_tiny_linear.py

The linear path is set as in vqcodec/net/linear_init.py (what tools/pca_init.py does for a
checkpoint): ``lin_enc``/``lin_dec`` the PCA of the 2x4x4 pixel blocks, the deep paths' last layers
zeroed, each bottom stage k-means on what the stages before it left; the top codebook is k-means on
the top latents too (they carry nothing to the picture, but then they code the clips' structure, not
noise). Fitted on small seeded synthetic clips (pans, a pan with a brightness ramp, moving shapes),
one torch thread: the same file on every run of the same torch. An empirical-static prior of the
clips' codes at the top quality ships with it, as in conftest.make_tiny_weights.

The file's bytes are not reproducible (``save_weights`` writes through a temporary file whose random
name torch records inside the archive), and a .vqv file names its model by the SHA-256 of those bytes:
so an existing tiny_linear.pt whose contents are the same is kept as it is (its digest with it).

Prints the PSNR of a 32x40 pan coded at the top quality (3: 1 top + 2 bottom stages).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from conftest import pan_video, synthetic_video  # noqa: E402

SEED = 0


def training_clips() -> np.ndarray:
    """uint8 (N, 8, 32, 32, 3): pans in several directions (one with a brightness ramp) and moving shapes."""
    clips = [pan_video(8, 32, 32, dx=dx, dy=dy) for dx, dy in ((1, 0), (1, 1), (-2, 1), (0, -1), (2, 2))]
    ramp = pan_video(8, 32, 32, dx=1, dy=1).astype(np.int16) + np.arange(8)[:, None, None, None] * 4 - 16
    clips.append(ramp.clip(0, 255).astype(np.uint8))
    clips += [synthetic_video(8, 32, 32, seed=s) for s in range(6)]
    return np.stack(clips)


def build(out: Path) -> Path:
    import torch

    from vqcodec.coding.gops import coded_symbols
    from vqcodec.entropy.priors import EmpiricalStaticPrior
    from vqcodec.net.linear_init import init_linear_code
    from vqcodec.net.model import MSVQVAE, get_config, uint8_to_input
    from vqcodec.net.quantizer import kmeans
    from vqcodec.weights import save_weights

    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    net = MSVQVAE(get_config("tiny-linear")).eval()
    clips = training_clips()
    x = uint8_to_input(torch.from_numpy(clips))
    init_linear_code(net, x, kmeans_iters=20, seed=SEED)
    with torch.no_grad():                    # the top codebook: k-means of the top latents
        z_t = net.analyse(clips)[2]
        rows = z_t.permute(0, 2, 3, 4, 1).reshape(-1, z_t.shape[1]).float()
        vq = net.top_quantizer.layers[0]
        vq.set_codebook(kmeans(rows, vq.codebook_size, iters=20, generator=torch.Generator().manual_seed(SEED)))
    counts: dict[str, np.ndarray] = {}
    codes = net.encode(clips, stages=net.cfg.operating_points[-1])
    for s in (s for c in codes.unbatch() for s in coded_symbols(c)):
        counts[s.name] = counts.get(s.name, 0) + np.bincount(s.symbols, minlength=s.codebook_size)
    static = EmpiricalStaticPrior.from_counts(counts)
    save_weights(net, out, precision="float", priors={"empirical-static": static.to_bytes()},
                 card={"name": "tiny-linear test model", "made_by": "tests/golden/make_tiny_linear.py"})
    return out


def same_contents(a: Path, b: Path) -> bool:
    """Two weights files with the same tensors, priors, config and card."""
    import torch

    x, y = (torch.load(p, map_location="cpu", weights_only=True) for p in (a, b))

    def same(u, v) -> bool:
        if isinstance(u, dict):
            return isinstance(v, dict) and u.keys() == v.keys() and all(same(u[k], v[k]) for k in u)
        if isinstance(u, torch.Tensor):
            return isinstance(v, torch.Tensor) and u.dtype == v.dtype and torch.equal(u, v)
        return u == v
    return same(x, y)


def main() -> None:
    from vqcodec.coding.decoder import decode_bytes
    from vqcodec.coding.encoder import encode_frames
    from vqcodec.metrics import psnr
    from vqcodec.weights import load_model

    path = HERE / "tiny_linear.pt"
    fresh = build(HERE / "tiny_linear.new.pt")
    if path.is_file() and same_contents(path, fresh):
        fresh.unlink()
        print(f"{path.name}: unchanged")
    else:
        fresh.replace(path)
    model = load_model(path)
    frames = pan_video(40, 32, 40, dx=1, dy=1)
    q = model.qualities[-1]
    data = encode_frames(frames, 16, model=model, quality=q, motion=False)
    print(f"{path.name}: {path.stat().st_size} bytes, sha256 {model.sha256[:16]}; 32x40 pan at Q{q}: "
          f"{psnr(decode_bytes(data, model=model), frames):.2f} dB, {len(data)} bytes")


if __name__ == "__main__":
    main()
