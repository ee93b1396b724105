"""Decoding past damage (``--skip-damaged``): every GOP outside a damaged chain decodes, the damaged
span is filled or dropped as asked, and what was damaged is reported."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from vqcodec.coding.decoder import decode_bytes, decode_gops
from vqcodec.coding.encoder import encode_frames
from vqcodec.errors import VqvError
from vqcodec.formats import CrcError, VqvReader
from vqcodec.weights import load_model

from conftest import pan_video, synthetic_video

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(scope="module")
def five_gops(tiny_model):
    """A 5-GOP file (the last one short) with refresh points at GOPs 0, 2 and 4."""
    frames = synthetic_video(4 * 32 + 10, 32, 32, seed=3)
    data = encode_frames(frames, 16, model=tiny_model, quality=2, refresh=2)
    assert VqvReader(io.BytesIO(data)).refresh_points() == [0, 2, 4]
    return data, decode_bytes(data, model=tiny_model)


def _damage(data: bytes, gop: int) -> bytes:
    bad = bytearray(data)
    bad[VqvReader(io.BytesIO(data))._offsets[gop] + 12] ^= 0x10      # inside the chunk: its CRC fails
    return bytes(bad)


def _decode(data: bytes, model, fill: str = "freeze"):
    seen = []
    parts = list(decode_gops(VqvReader(io.BytesIO(data)), model, on_damage=seen.append, fill=fill))
    return parts, seen


def test_a_damaged_gop_is_filled_and_the_rest_decode_as_before(tiny_model, five_gops):
    data, whole = five_gops
    bad = _damage(data, 1)
    with pytest.raises(CrcError, match="GOP 1"):             # without the option: refused, as before
        decode_bytes(bad, model=tiny_model)
    parts, seen = _decode(bad, tiny_model)
    assert [(d.index, d.frames) for d in seen] == [(1, 32)] and "CRC" in seen[0].reason
    got = np.concatenate(parts)
    assert got.shape == whole.shape
    np.testing.assert_array_equal(got[:32], whole[:32])
    np.testing.assert_array_equal(got[64:], whole[64:])                # from the next refresh point on
    np.testing.assert_array_equal(got[32:64], np.broadcast_to(whole[31], (32, *whole.shape[1:])))


@pytest.mark.parametrize("per_round", [1, 2, 4])
@pytest.mark.parametrize("damaged", [1, 3, 4])
def test_damage_anywhere_in_any_round_size(tiny_model, five_gops, monkeypatch, per_round, damaged):
    """The decoder keeps a round in the network ahead of the one it hands out: damage before, inside
    or after a pending round gives the GOPs in order, each as decoded alone."""
    import vqcodec.coding.decoder as decoder_module
    monkeypatch.setattr(decoder_module, "network_round", lambda h, w: (2, per_round))
    data, whole = five_gops
    assert np.array_equal(np.concatenate(_decode(data, tiny_model)[0]), whole)
    parts, seen = _decode(_damage(data, damaged), tiny_model, fill="black")
    lost = {1: [1], 3: [3], 4: [4]}[damaged]                 # refresh points at 0, 2, 4: nothing else depends on them
    assert [d.index for d in seen] == lost
    got = np.concatenate(parts)
    assert got.shape == whole.shape
    for i in range(5):
        sl = slice(32 * i, 32 * (i + 1))
        if i in lost:
            assert not got[sl].any()
        else:
            np.testing.assert_array_equal(got[sl], whole[sl])


def test_damage_in_a_refresh_gop_takes_its_predicted_gops_with_it(tiny_model, five_gops):
    data, whole = five_gops
    parts, seen = _decode(_damage(data, 2), tiny_model, fill="black")
    assert [d.index for d in seen] == [2, 3] and "damaged GOP 2" in seen[1].reason
    got = np.concatenate(parts)
    np.testing.assert_array_equal(got[:64], whole[:64])
    assert not got[64:128].any()
    np.testing.assert_array_equal(got[128:], whole[128:])
    parts, _ = _decode(_damage(data, 2), tiny_model, fill="drop")
    np.testing.assert_array_equal(np.concatenate(parts), np.concatenate([whole[:64], whole[128:]]))
    with pytest.raises(VqvError, match="unknown fill"):
        _decode(data, tiny_model, fill="grey")


def test_a_damaged_motion_gop_does_not_feed_the_prediction_after_it():
    model = load_model(GOLDEN / "tiny_enhanced.pt")
    frames = pan_video(96, 32, 32)
    data = encode_frames(frames, 16, model=model, quality=3, motion=True, refresh=2)
    whole = decode_bytes(data, model=model)
    parts, seen = _decode(_damage(data, 1), model)
    assert [d.index for d in seen] == [1]
    got = np.concatenate(parts)
    np.testing.assert_array_equal(got[64:], whole[64:])      # GOP 2 is a refresh GOP: predicts from nothing before


def _cli(*args):
    from click.testing import CliRunner

    from vqcodec.cli.main import main
    r = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return r.exit_code, r.stdout, r.stderr


def test_cli_skip_damaged_reports_the_span_and_exits_3(tiny_weights, tiny_model, five_gops, tmp_path):
    data, whole = five_gops
    bad = tmp_path / "bad.vqv"
    bad.write_bytes(_damage(data, 2))
    out = tmp_path / "out.npy"
    code, _, err = _cli("decode", bad, out, "--model", tiny_weights, "-q")
    assert code == 1 and "GOP 2" in err and not out.exists()             # without the option: as before
    code, _, err = _cli("decode", bad, out, "--model", tiny_weights, "-q", "--skip-damaged", "--fill", "drop")
    assert code == 3
    lines = [x for x in err.splitlines() if x]
    assert len(lines) == 1 and lines[0].startswith("vqv: warning: GOPs 2-3 (frames 64-127) damaged, dropped")
    np.testing.assert_array_equal(np.load(out), np.concatenate([whole[:64], whole[128:]]))
    code, _, err = _cli("decode", bad, out, "--model", tiny_weights, "-y", "--skip-damaged", "--json")
    assert code == 3 and np.load(out).shape == whole.shape                # freeze: every frame is there
    code, _, err = _cli("decode", tmp_path / "bad.vqv", tmp_path / "x.npy", "--fill", "black")
    assert code == 2 and "--fill needs --skip-damaged" in err


def test_cli_skip_damaged_on_an_intact_file_is_a_plain_decode(tiny_weights, five_gops, tmp_path):
    data, whole = five_gops
    good = tmp_path / "good.vqv"
    good.write_bytes(data)
    code, _, err = _cli("decode", good, tmp_path / "o.npy", "--model", tiny_weights, "-q", "--skip-damaged")
    assert code == 0 and err == ""
    np.testing.assert_array_equal(np.load(tmp_path / "o.npy"), whole)


def test_cli_nothing_decodable_is_a_data_error(tiny_weights, tiny_model, tmp_path):
    data = encode_frames(synthetic_video(20, 32, 32, seed=1), 16, model=tiny_model, quality=2)
    bad = tmp_path / "bad.vqv"
    bad.write_bytes(_damage(data, 0))
    code, _, err = _cli("decode", bad, tmp_path / "o.npy", "--model", tiny_weights, "--skip-damaged", "--fill", "drop")
    assert code == 1 and "no GOP could be decoded" in err and not (tmp_path / "o.npy").exists()


def test_a_gops_network_starts_before_its_motion_layer_is_read_and_a_damaged_layer_drops_it(monkeypatch):
    import threading

    import vqcodec.coding.decoder as decoder
    import vqcodec.coding.gop_coding as gop_coding
    from vqcodec.entropy.rans import EntropyError
    model = load_model(GOLDEN / "tiny_enhanced.pt")
    data = encode_frames(pan_video(96, 32, 32), 16, model=model, quality=3, motion=True, refresh=2)
    whole = decode_bytes(data, model=model)
    synthesise, motion_layer = decoder.synthesise, gop_coding.code_motion_layer
    running, waited, layers = threading.Semaphore(0), [], [0]

    def network(*a, **k):
        running.release()
        return synthesise(*a, **k)

    def layer(*a, **k):
        # each GOP's motion layer is read while its network runs (before: only after the layer was read)
        waited.append(running.acquire(timeout=30))
        layers[0] += 1
        if layers[0] == fail_at:
            raise EntropyError("motion layer: damaged")
        return motion_layer(*a, **k)
    monkeypatch.setattr(decoder, "synthesise", network)
    monkeypatch.setattr(gop_coding, "code_motion_layer", layer)
    fail_at = None
    np.testing.assert_array_equal(decode_bytes(data, model=model), whole)
    assert waited == [True] * 3
    waited.clear()
    layers[0], fail_at = 0, 2
    parts, seen = _decode(data, model)
    assert [d.index for d in seen] == [1] and waited == [True] * 3      # GOP 1's network ran, and is dropped
    np.testing.assert_array_equal(parts[0], whole[:32])
    np.testing.assert_array_equal(parts[1], np.broadcast_to(whole[31], (32, *whole.shape[1:])))
    np.testing.assert_array_equal(parts[2], whole[64:])
