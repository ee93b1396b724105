"""A committed .vqv file that today's reader must keep decoding (format drift is caught here)."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from vqcodec import codec
from vqcodec.formats import VqvReader
from vqcodec.weights import load_model

GOLDEN = Path(__file__).parent / "golden"


def test_golden_file_decodes_to_the_committed_codes_and_frames():
    model = load_model(GOLDEN / "tiny.pt")
    data = (GOLDEN / "golden.vqv").read_bytes()
    want = np.load(GOLDEN / "golden_codes.npz")
    reader = VqvReader(io.BytesIO(data))
    assert reader.header.frame_count == 40 and reader.header.prior == "empirical-adaptive"
    got = list(codec.read_gop_codes(reader, model))
    assert len(got) == 2
    for i, codes, _ in got:
        for lv in codes.levels:
            np.testing.assert_array_equal(lv.indices, want[f"gop{i}_{lv.name}"])   # bit-exact
    frames = codec.decode_bytes(data, model=model)
    ref = np.load(GOLDEN / "golden_frames.npy")
    assert frames.shape == ref.shape == (40, 48, 40, 3)
    # pixels come from float convolutions, which may round differently on another CPU: allow 1 LSB
    diff = np.abs(frames.astype(int) - ref.astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 0.01


def test_rewriting_the_golden_codes_gives_the_same_bytes():
    """Entropy coding and container writing are integer-exact: same codes, same prior, same bytes."""
    model = load_model(GOLDEN / "tiny.pt")
    data = (GOLDEN / "golden.vqv").read_bytes()
    reader = VqvReader(io.BytesIO(data))
    h = reader.header
    gop_codes = [(c, n) for _, c, n in codec.read_gop_codes(reader, model)]
    out = io.BytesIO()
    codec.write_container(out, model, h.quality, gop_codes, prior_kind=h.prior,
                          source_size=(h.source_width, h.source_height),
                          coded_size=(h.coded_width, h.coded_height), fps=h.fps_num / h.fps_den)
    assert out.getvalue() == data
