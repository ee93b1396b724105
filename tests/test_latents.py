"""The latent view (vqcodec.read_latents, `vqv latents`): one layout at every quality, the values the
decoder consumes, trimmed by the real frame count; and the honest labels of `vqv codes`."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import vqcodec
from conftest import synthetic_video
from vqcodec.cli.main import main
from vqcodec.coding.decoder import decode_bytes
from vqcodec.coding.encoder import encode_frames
from vqcodec.latents import frames_from_latents, read_latents
from vqcodec.weights import load_model

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(scope="module")
def emodel():
    """tiny_enhanced.pt: Q1 VQ 1+1, Q2 a scalar bottom, Q3-Q4 scalar plus the enhancement layer."""
    return load_model(GOLDEN / "tiny_enhanced.pt")


@pytest.fixture(scope="module")
def clip():
    return synthetic_video(40, 48, 40, seed=5)     # two GOPs, the second 8 real frames of 32


@pytest.fixture(scope="module")
def files(emodel, tiny_model, clip, tmp_path_factory):
    """(model, quality, path) for every quality of both tiny models (tiny.pt's Q1 keeps no bottom stage),
    without the motion layer (the latents then decode to the file's frames exactly)."""
    d = tmp_path_factory.mktemp("lat")
    out = []
    for name, m in (("e", emodel), ("t", tiny_model)):
        for q in m.qualities:
            p = d / f"{name}{q}.vqv"
            p.write_bytes(encode_frames(clip, 16, model=m, quality=q, prior="empirical-static", motion=False))
            out.append((m, q, p))
    return out


def test_latent_shapes_are_the_same_at_every_quality(files):
    shapes = set()
    for m, q, p in files:
        lat = read_latents(p, m)
        assert lat["top"].dtype == np.float32 and lat["bottom"].dtype == np.float32
        shapes.add((lat["top"].shape, lat["bottom"].shape))
        assert lat["bottom"].shape == (2, m.cfg.latent_dim, 16, 12, 10), q
    assert len(shapes) == 1
    # the indices' layout, by contrast, changes with the point: why the latent view exists
    assert len({vqcodec.read_codes(p, model=m).level("bottom").shape for m, q, p in files}) > 1


def test_a_level_without_stages_is_zeros_and_scalar_points_are_symbols_times_step(files):
    for m, q, p in files:
        lat, cf = read_latents(p, m), vqcodec.read_codes(p, model=m)
        if m.point(q).scalar:
            want = np.stack([g.scalar.symbols for g in cf.gops]).astype(np.float32) * np.float32(m.point(q).step)
            np.testing.assert_array_equal(lat["bottom"], want)
        elif m.point(q).bottom == 0:
            assert not lat["bottom"].any() and lat["top"].any()
        else:      # the sum of the kept stages' codebook vectors
            idx = cf.level("bottom")
            books = m.net.bottom_quantizer.layers
            want = sum(books[s].codebook.detach().numpy()[idx[:, s]] for s in range(idx.shape[1]))
            np.testing.assert_allclose(lat["bottom"], np.moveaxis(want, -1, 1), atol=1e-6)


def test_the_latents_decode_to_the_files_frames(files):
    """The network decoding the latent, plus the enhancement layer where the point has one, gives
    exactly the frames `vqv decode` gives."""
    for m, q, p in files:
        lat = read_latents(p, m)
        want = decode_bytes(p.read_bytes(), model=m)
        got = []
        for g in range(len(lat)):
            enh = None if lat.enhancement is None else lat.enhancement[g]
            f = frames_from_latents(m, {"top": lat["top"][g], "bottom": lat["bottom"][g]}, enh,
                                    coded_frames=int(lat.coded_frames[g]))
            got.append(f[:lat.frame_counts[g], :48, :40])
        np.testing.assert_array_equal(np.concatenate(got), want, err_msg=f"quality {q}")
        assert (lat.enhancement is not None) == m.point(q).enhanced


def test_dequantise_matches_what_decode_feeds_the_network(emodel, clip):
    codes = emodel.net.encode(np.stack([clip[:32], clip[8:40]]), stages=(1, 1))
    lat = emodel.net.dequantise(codes)
    assert lat["top"].shape == (2, 8, 8, 6, 5) and lat["bottom"].shape == (2, 8, 16, 12, 10)
    np.testing.assert_array_equal(emodel.net.decode_latents(lat), emodel.net.decode(codes))
    one = emodel.net.dequantise(codes.unbatch()[1])
    assert torch.equal(one["bottom"][0], lat["bottom"][1])


def test_frame_counts_and_valid_slices_trim_the_padded_gop(files):
    m, q, p = files[0]
    lat = read_latents(p, m)
    assert list(lat.frame_counts) == [32, 8] and lat.frames == 40
    assert [lv.frames_per_slice for lv in lat.levels] == [4, 2]      # tiny: bottom 2 frames, top 2x2
    valid = lat.valid("bottom")
    assert valid.shape == (2, 16) and valid[0].all() and valid[1].sum() == 4     # 8 frames / 2 per slice
    assert lat.valid("top")[1].sum() == 2
    r = repr(lat)
    assert "2 GOPs, 40 frames" in r and "bottom 2x8x16x12x10" in r and "object at" not in r
    assert "object at" not in repr(vqcodec.read_codes(p, model=m))
    with pytest.raises(KeyError, match="levels: top, bottom"):
        lat.level("middle")


def test_motion_files_carry_flags_and_vectors(emodel):
    lat = read_latents(GOLDEN / "golden_motion.vqv", emodel)
    want = np.load(GOLDEN / "golden_motion_codes.npz")
    np.testing.assert_array_equal(lat.motion_flags[1], want["gop1_motion_predicted"])
    np.testing.assert_array_equal(lat.motion_vectors[0], want["gop0_motion_vectors"])
    assert lat.motion_flags.shape == lat.level("bottom").copied.shape


def test_cli_latents_writes_self_describing_arrays_and_keeps_existing_output(files, tmp_path):
    m, q, p = files[2]              # the enhanced point
    out = tmp_path / "l.npz"
    r = CliRunner().invoke(main, ["latents", str(p), str(out), "--model", str(m.path)])
    assert r.exit_code == 0, r.output
    assert "bottom" in r.output and "(gops, C, T, H, W) float32" in r.output
    z = np.load(out)
    layout = json.loads(str(z["layout"]))
    assert set(layout) == set(z.files) - {"layout"}
    assert z["bottom"].shape == (2, 8, 16, 12, 10) and z["enhancement"].shape[:2] == (2, 32)
    assert list(z["frame_counts"]) == [32, 8] and z["bottom_valid"][1].sum() == 4
    before = out.read_bytes()
    r = CliRunner().invoke(main, ["latents", str(p), str(out), "--model", str(m.path)])
    assert r.exit_code == 1 and "exists" in r.output and out.read_bytes() == before
    r = CliRunner().invoke(main, ["latents", str(p), str(tmp_path / "l.txt"), "--model", str(m.path)])
    assert r.exit_code == 2 and "Traceback" not in r.output
    r = CliRunner().invoke(main, ["latents", str(tmp_path / "none.vqv"), str(tmp_path / "x.npz")])
    assert r.exit_code == 1 and "no such file" in r.output


def test_codes_labels_each_array_with_its_own_layout(files, tmp_path):
    m, q, p = files[1]              # a scalar point: indices, symbols and copy maps side by side
    r = CliRunner().invoke(main, ["codes", str(p), str(tmp_path / "c.npz"), "--model", str(m.path)])
    assert r.exit_code == 0, r.output
    lines = {ln.split()[0]: ln for ln in r.output.splitlines()[1:]}
    assert "(gops, stages, T, H, W)" in lines["bottom"] and "(gops, C, T, H, W)" in lines["bottom_scalar"]
    assert "(gops, T, H, W)" in lines["top_copied"] and "stages" not in lines["top_copied"]
    layout = json.loads(str(np.load(tmp_path / "c.npz")["layout"]))
    assert layout["bottom_scalar"].startswith("(gops, C, T, H, W)") and "frame_counts" in layout


@pytest.mark.parametrize("command", ["codes", "latents"])
def test_codes_and_latents_to_standard_output(files, tmp_path, command):
    """OUTPUT - : the .npz on standard output (read back as it is), the summary on standard error."""
    import io
    import subprocess
    import sys
    m, q, p = files[2]
    ref = tmp_path / "ref.npz"
    assert CliRunner().invoke(main, [command, str(p), str(ref), "--model", str(m.path)]).exit_code == 0
    r = subprocess.run([sys.executable, "-m", "vqcodec.cli.main", command, str(p), "-", "--model", str(m.path)],
                       capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert b"<stdout>" in r.stderr
    got, want = np.load(io.BytesIO(r.stdout)), np.load(ref)
    assert set(got.files) == set(want.files)
    for k in want.files:
        np.testing.assert_array_equal(got[k], want[k])
