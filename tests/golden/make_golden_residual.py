"""Regenerate the motion-residual golden fixtures (by hand, only when the motion residual's format
changes on purpose, or after make_tiny_linear.py: a changed file means files in the wild stop decoding).

    python tests/golden/make_golden_residual.py

Writes golden_residual.vqv (version 5.0: tiny_linear.pt's top quality, 1 top + 2 bottom stages, with
the motion layer and its residual, options ((1, 1),): the second bottom stage's codebook; a 40-frame
32x40 pan of 1 pixel per frame down and right, two GOPs, the second predicted, refresh 0),
golden_residual_codes.npz (per GOP: the VQ indices and copy maps, the motion flags and vectors, each
predicted block's residual option and codes) and golden_residual_frames.npy. Refuses to write a file
in which no block carries a residual.
"""
from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from conftest import pan_video  # noqa: E402

from vqcodec.coding.decoder import decode_bytes, read_gop_codes  # noqa: E402
from vqcodec.coding.encoder import encode_frames  # noqa: E402
from vqcodec.formats import VqvReader  # noqa: E402
from vqcodec.formats.versions import BENDS_VERSION  # noqa: E402
from vqcodec.weights import load_model  # noqa: E402

QUALITY = 3


def golden_input() -> np.ndarray:
    return pan_video(40, 32, 40, dx=1, dy=1)


def gop_arrays(g) -> dict[str, np.ndarray]:
    """A decoded GOP's codes as the golden fixtures store them: each level's indices and copy map, the
    motion layer's flags and vectors, and its residual options and codes and its bends where present."""
    out = {}
    for lv in g.codes.levels:
        out[f"gop{g.index}_{lv.name}"] = lv.indices
        out[f"gop{g.index}_{lv.name}_copied"] = lv.copy_map()
    m = g.codes.motion
    for key, arr in (("predicted", m.flags), ("vectors", m.vectors), ("residual", m.residual),
                     ("residual_codes", m.residual_codes), ("bends", m.bends)):
        if arr is not None:
            out[f"gop{g.index}_motion_{key}"] = arr
    return out


def make_golden(stem: str, frames: np.ndarray, version: tuple[int, int], per_gop, what: str) -> None:
    """``frames`` coded with the tiny linear model at QUALITY (motion on, no refresh after GOP 0): the
    file must be of ``version`` with the motion residual's one option, and every GOP must hold some
    ``per_gop(codes)`` (else another clip is needed); writes STEM.vqv, STEM_codes.npz, STEM_frames.npy."""
    import torch
    torch.set_num_threads(1)
    model = load_model(HERE / "tiny_linear.pt")
    data = encode_frames(frames, 16, model=model, quality=QUALITY, motion=True, refresh=0,
                         motion_bends=version >= BENDS_VERSION, network_float="float32")   # 5.0: before bent paths
    reader = VqvReader(io.BytesIO(data))
    assert reader.version == version and reader.motion_residual == ((1, 1),), (reader.version, reader.motion_residual)
    arrays, counts = {}, []
    for g in read_gop_codes(reader, model):
        arrays.update(gop_arrays(g))
        counts.append(int(per_gop(g.codes)))
    if not all(counts):
        raise SystemExit(f"{what} per GOP {counts}: choose a clip where every GOP has some")
    write_golden(stem, data, arrays, model, f"{what} per GOP: {counts}")


def write_golden(stem: str, data: bytes, arrays: dict, model, what: str) -> None:
    """STEM.vqv, STEM_codes.npz (``arrays``) and STEM_frames.npy (``data`` decoded with ``model``)."""
    (HERE / f"{stem}.vqv").write_bytes(data)
    np.savez_compressed(HERE / f"{stem}_codes.npz", **arrays)
    np.save(HERE / f"{stem}_frames.npy", decode_bytes(data, model=model))
    print(f"{stem}.vqv: {len(data)} bytes, {what}")


def main() -> None:
    make_golden("golden_residual", golden_input(), (5, 0), lambda c: (c.motion.residual > 0).sum(),
                "blocks with a residual")


if __name__ == "__main__":
    main()
