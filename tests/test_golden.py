"""Committed .vqv files that every later reader must keep decoding (format drift is caught here).

* ``golden.vqv``: version 1.0, written by release 0.1 (tiny model, empirical-adaptive prior); never
  regenerated. ``golden_learned.vqv`` (1.0, learned prior) is checked in test_learned_prior.py.
* ``golden_v2.vqv``: version 2.0 with copy mode, prediction across GOPs and a refresh point
  (``make_golden_v2.py``, learned prior of ``tiny_learned.pt``).
* ``golden_scalar.vqv``: version 2.0 at a scalar point of ``tiny_scalar.pt``'s quality ladder
  (``make_golden_scalar.py``).
* ``golden_enhanced.vqv``: version 2.0 at an enhanced point of ``tiny_enhanced.pt``'s version-2 ladder
  (``make_golden_enhanced.py``).
* ``golden_motion.vqv``: version 3.0, the motion layer, at the same point, two GOPs, the second
  predicted (``make_golden_motion.py``).
* ``release02_shipped.vqv`` / ``release04_shipped_q10.vqv`` / ``release05_shipped_q12.vqv``: written by the
  shipped default of release 0.2 / 0.4 / 0.5, decoded with today's shipped weights.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from vqcodec.coding.decoder import decode_bytes, read_gop_codes
from vqcodec.coding.encoder import EncodedGop, write_container
from vqcodec.coding.gop_coding import encode_gop, layout_of
from vqcodec.coding.prior_choice import candidate_priors
from vqcodec.formats import VqvReader
from vqcodec.settings import EncodeSettings
from vqcodec.weights import load_model, model_for_file

GOLDEN = Path(__file__).parent / "golden"


def _check_decodes(model, data: bytes, codes_file: str, frames_file: str) -> list:
    want = np.load(GOLDEN / codes_file)
    got = list(read_gop_codes(VqvReader(io.BytesIO(data)), model))
    for g in got:
        for lv in g.codes.levels:
            np.testing.assert_array_equal(lv.indices, want[f"gop{g.index}_{lv.name}"])   # bit-exact
            if f"gop{g.index}_{lv.name}_copied" in want:
                np.testing.assert_array_equal(lv.copy_map(), want[f"gop{g.index}_{lv.name}_copied"])
    frames = decode_bytes(data, model=model)
    ref = np.load(GOLDEN / frames_file)
    assert frames.shape == ref.shape
    # pixels come from float convolutions, which may round differently on another CPU: allow 1 LSB
    diff = np.abs(frames.astype(int) - ref.astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 0.01
    return got


def test_v1_golden_file_decodes_to_the_committed_codes_and_frames():
    model = load_model(GOLDEN / "tiny.pt")
    data = (GOLDEN / "golden.vqv").read_bytes()
    reader = VqvReader(io.BytesIO(data))
    assert reader.version == (1, 0) and reader.header.frame_count == 40
    assert reader.header.prior == "empirical-adaptive"
    assert len(_check_decodes(model, data, "golden_codes.npz", "golden_frames.npy")) == 2


def test_v1_payloads_are_what_the_gop_coder_writes_today():
    """The entropy layer is integer-exact and kept its order: recoding the v1 file's codes without
    copy mode gives exactly its payloads."""
    model = load_model(GOLDEN / "tiny.pt")
    reader = VqvReader(io.BytesIO((GOLDEN / "golden.vqv").read_bytes()))
    h = reader.header
    prior = candidate_priors(model, "empirical-adaptive", [])[0].from_params(h.prior_params)
    for g in read_gop_codes(reader, model):
        layout = layout_of(g.codes)
        res = encode_gop(layout, prior, g.codes, copy_mode=False, reference=None, end_check=False)
        assert res.payload == reader.read_chunk(g.index).payload


def test_v2_golden_file_decodes_and_rewrites_to_the_same_bytes():
    model = load_model(GOLDEN / "tiny_learned.pt")
    data = (GOLDEN / "golden_v2.vqv").read_bytes()
    reader = VqvReader(io.BytesIO(data))
    h = reader.header
    assert reader.version == (2, 0) and h.copy_mode and h.gop_prediction and h.prior == "learned"
    assert reader.refresh_points() == [0, 2]
    got = _check_decodes(model, data, "golden_v2_codes.npz", "golden_v2_frames.npy")
    assert any(lv.copy_map().any() for g in got for lv in g.codes.levels)
    gops = [EncodedGop(g.codes, g.frames, reader.is_refresh(g.index)) for g in got]
    out = io.BytesIO()
    settings = EncodeSettings(h.quality, model.point(h.quality), h.prior, rdo_strength=1.0, refresh=h.refresh_interval,
                              motion=False)
    write_container(out, model, settings, gops, source_size=(h.source_width, h.source_height),
                    coded_size=(h.coded_width, h.coded_height), fps=h.fps_num / h.fps_den)
    assert out.getvalue() == data


def test_a_file_of_release_0_2_decodes_with_the_shipped_weights():
    """release02_shipped.vqv was written by release 0.2 (format 1.0, learned prior, GOP context) with
    the shipped weights of that release; the `cpu` weights kept beside today's default carry that
    release's priors (legacy entry), so the file finds them by its digest and decodes to the same codes."""
    data = (GOLDEN / "release02_shipped.vqv").read_bytes()
    reader = VqvReader(io.BytesIO(data))
    model = model_for_file(reader.header.model_digest)
    assert model.path.name == "vqv-cpu.pt" and load_model().path.name != "vqv-cpu.pt"
    assert reader.version == (1, 0) and reader.header.model_digest != model.digest
    want = np.load(GOLDEN / "release02_shipped_codes.npz")
    got = list(read_gop_codes(reader, model))
    assert len(got) == len(want["frame_counts"]) == 2
    for g in got:
        for lv in g.codes.levels:
            np.testing.assert_array_equal(lv.indices, want[lv.name][g.index])


def _rewritten(model, reader: VqvReader, got) -> bytes:
    """The file written again from its decoded codes, with its header's settings."""
    h = reader.header
    gops = [EncodedGop(g.codes, g.frames, reader.is_refresh(g.index)) for g in got]
    out = io.BytesIO()
    settings = EncodeSettings(h.quality, model.point(h.quality), h.prior, rdo_strength=float(h.copy_mode),
                              refresh=h.refresh_interval, motion=reader.version[0] >= 3)
    write_container(out, model, settings, gops, source_size=(h.source_width, h.source_height),
                    coded_size=(h.coded_width, h.coded_height), fps=h.fps_num / h.fps_den)
    return out.getvalue()


def test_scalar_golden_file_decodes_and_rewrites_to_the_same_bytes():
    model = load_model(GOLDEN / "tiny_scalar.pt")
    data = (GOLDEN / "golden_scalar.vqv").read_bytes()
    reader = VqvReader(io.BytesIO(data))
    h = reader.header
    assert reader.version == (2, 0) and model.point(h.quality).scalar
    want = np.load(GOLDEN / "golden_scalar_codes.npz")
    got = list(read_gop_codes(reader, model))
    assert len(got) == 2
    for g in got:
        np.testing.assert_array_equal(g.codes.level("top").indices, want[f"gop{g.index}_top"])
        np.testing.assert_array_equal(g.codes.level("top").copy_map(), want[f"gop{g.index}_top_copied"])
        np.testing.assert_array_equal(g.codes.scalar.symbols, want[f"gop{g.index}_scalar"])
        np.testing.assert_array_equal(g.codes.scalar.copy_map(), want[f"gop{g.index}_scalar_copied"])
    assert any(g.codes.scalar.copy_map().any() for g in got) and not all(g.codes.scalar.copy_map().all() for g in got)
    frames = decode_bytes(data, model=model)
    diff = np.abs(frames.astype(int) - np.load(GOLDEN / "golden_scalar_frames.npy").astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 0.01
    assert _rewritten(model, reader, got) == data


def test_enhanced_golden_file_decodes_and_rewrites_to_the_same_bytes():
    model = load_model(GOLDEN / "tiny_enhanced.pt")
    data = (GOLDEN / "golden_enhanced.vqv").read_bytes()
    reader = VqvReader(io.BytesIO(data))
    h = reader.header
    assert reader.version == (2, 0) and model.point(h.quality).enhanced and model.point(h.quality).scalar
    want = np.load(GOLDEN / "golden_enhanced_codes.npz")
    got = list(read_gop_codes(reader, model))
    assert len(got) == 2
    for g in got:
        np.testing.assert_array_equal(g.codes.scalar.symbols, want[f"gop{g.index}_scalar"])
        np.testing.assert_array_equal(g.codes.enhancement.symbols, want[f"gop{g.index}_enhancement"])
        np.testing.assert_array_equal(g.codes.enhancement.copy_map(), want[f"gop{g.index}_enhancement_copied"])
    assert all(g.codes.enhancement.symbols.any() for g in got)
    frames = decode_bytes(data, model=model)
    diff = np.abs(frames.astype(int) - np.load(GOLDEN / "golden_enhanced_frames.npy").astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 0.01
    assert _rewritten(model, reader, got) == data


def test_a_file_of_release_0_4_decodes_with_its_qualities_after_the_ladder():
    """release04_shipped_q10.vqv was written at quality 10 (4+14 VQ stages) by the shipped weights of
    release 0.4, before they gained a quality ladder in which Q10 is a scalar point: the file names the
    earlier release's digest, so it decodes with that release's qualities, to the same codes."""
    data = (GOLDEN / "release04_shipped_q10.vqv").read_bytes()
    reader = VqvReader(io.BytesIO(data))
    model = model_for_file(reader.header.model_digest)
    assert reader.header.quality == 10 and model.point(10).scalar
    assert model.for_digest(reader.header.model_digest).point(10).describe() == "4+14"
    want = np.load(GOLDEN / "release04_shipped_q10_codes.npz")
    got = list(read_gop_codes(reader, model))
    assert len(got) == len(want["frame_counts"]) == 2
    for g in got:
        assert g.codes.scalar is None
        for lv in g.codes.levels:
            np.testing.assert_array_equal(lv.indices, want[lv.name][g.index])


def test_a_file_of_release_0_5_decodes_with_its_ladder():
    """release05_shipped_q12.vqv was written at quality 12 (top 4 + scalar bottom, step 0.42) by the
    shipped weights of release 0.5, whose ladder had no enhancement layer: it decodes with that
    release's ladder, to the same codes."""
    data = (GOLDEN / "release05_shipped_q12.vqv").read_bytes()
    reader = VqvReader(io.BytesIO(data))
    model = model_for_file(reader.header.model_digest)
    assert reader.header.quality == 12
    assert model.for_digest(reader.header.model_digest).point(12).describe() == "4+scalar/0.419922"
    want = np.load(GOLDEN / "release05_shipped_q12_codes.npz")
    got = list(read_gop_codes(reader, model))
    assert len(got) == 2
    for g in got:
        assert g.codes.enhancement is None
        np.testing.assert_array_equal(g.codes.level("top").indices, want[f"gop{g.index}_top"])
        np.testing.assert_array_equal(g.codes.scalar.symbols, want[f"gop{g.index}_scalar"])
        np.testing.assert_array_equal(g.codes.scalar.copy_map(), want[f"gop{g.index}_scalar_copied"])
    assert decode_bytes(data, model=model).shape == (40, 64, 64, 3)


def test_motion_golden_file_decodes_and_rewrites_to_the_same_bytes():
    model = load_model(GOLDEN / "tiny_enhanced.pt")
    data = (GOLDEN / "golden_motion.vqv").read_bytes()
    reader = VqvReader(io.BytesIO(data))
    assert reader.version == (3, 0) and reader.header.copy_mode and reader.refresh_points() == [0]
    want = np.load(GOLDEN / "golden_motion_codes.npz")
    got = list(read_gop_codes(reader, model))
    assert len(got) == 2
    for g in got:
        np.testing.assert_array_equal(g.codes.motion.flags, want[f"gop{g.index}_motion_predicted"])
        np.testing.assert_array_equal(g.codes.motion.vectors, want[f"gop{g.index}_motion_vectors"])
        np.testing.assert_array_equal(g.codes.enhancement.symbols, want[f"gop{g.index}_enhancement"])
        assert g.codes.motion.flags.any()
    assert got[1].codes.motion.flags[0].any()      # the predicted GOP's first slice predicts across GOPs
    frames = decode_bytes(data, model=model)
    diff = np.abs(frames.astype(int) - np.load(GOLDEN / "golden_motion_frames.npy").astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 0.01
    assert _rewritten(model, reader, got) == data
