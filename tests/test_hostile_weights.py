"""Hostile weights files given with ``--model`` (issue #25): each ends in one WeightsError line naming
the file and the field, exit status 1, quickly and in bounded memory; never a raw Python message, an
allocation the file cannot back or a decompression bomb.

The files are made here by hand: the committed tiny model's dict, read with ``torch.load``, with one
field replaced, written with ``torch.save`` (not with vqv's ``save_weights``, which would refuse or
repair them); the zip archive's directory is patched byte by byte.
"""
from __future__ import annotations

import json
import struct

import msgpack
import pytest
import torch
import zstandard
from hostile_helpers import GOLDEN, MiB, check_message, peak_mib

from vqcodec.weights import WeightsError, load_model

SOURCE = GOLDEN / "tiny_learned.pt"


@pytest.fixture(scope="module")
def blob():
    return torch.load(SOURCE, map_location="cpu", weights_only=True)


def _u8(b: bytes) -> torch.Tensor:
    return torch.frombuffer(bytearray(b), dtype=torch.uint8)


def _bomb(mib: int = 64) -> bytes:
    """A zstd frame (a few KB) of ``mib`` MiB of msgpack: one array of one-byte empty arrays."""
    n = mib * MiB - 5
    return zstandard.ZstdCompressor(level=19, write_content_size=True).compress(
        b"\xdd" + n.to_bytes(4, "big") + b"\x90" * n)


def _config(blob, **kw) -> str:
    return json.dumps({**json.loads(blob["config"]), **kw})


# field -> (replacement of the dict, what the message must say)
CASES = {
    "card-int": (lambda b: {"card": 7}, "card is an int, not JSON text"),
    "card-list": (lambda b: {"card": "[1, 2]"}, "card is JSON a list, not a map"),
    "card-deep": (lambda b: {"card": "[" * 100_000}, "card is not JSON"),
    "card-points": (lambda b: {"card": json.dumps({"operating_points": {"1": {"bpp": "x", "psnr": 1, "ssim": 1}}})},
                    "card.operating_points['1'] needs numbers"),
    "card-light": (lambda b: {"card": json.dumps({"light_synthesis": [1]})}, "card.light_synthesis is JSON a list"),
    "priors-list": (lambda b: {"priors": [1, 2]}, "priors is a list, not a map"),
    "priors-str": (lambda b: {"priors": {"learned": "abc"}}, "priors['learned'] is a str, not bytes"),
    "priors-float": (lambda b: {"priors": {"learned": torch.zeros(3)}}, "priors['learned'] is a tensor of torch.float32"),
    "legacy-int-key": (lambda b: {"legacy_priors": {5: _u8(b"x")}}, "legacy_priors has a key 5"),
    "legacy-no-sha": (lambda b: {"legacy_priors": {"abc/learned": _u8(b"x")}}, "is not named"),
    "config-int": (lambda b: {"config": 5}, "config is an int, not JSON text"),
    "config-list": (lambda b: {"config": "[1]"}, "config is JSON a list, not a map"),
    "config-not-json": (lambda b: {"config": "{"}, "config is not JSON"),
    "stages-20000": (lambda b: {"config": _config(b, bottom_stages=20_000)}, "config.bottom_stages is 20000, outside 0..64"),
    "codebook-2**24": (lambda b: {"config": _config(b, bottom_codebook=1 << 24)}, "config.bottom_codebook is 16777216"),
    "codebook-2**16": (lambda b: {"config": _config(b, bottom_codebook=1 << 16)},
                       "has shape (64, 8), the config's network needs (65536, 8)"),
    "channels-str": (lambda b: {"config": _config(b, top_channels="16")}, "config.top_channels is a str"),
    "strides-str": (lambda b: {"config": _config(b, bottom_strides="abc")}, "config.bottom_strides must be a list"),
    "stride-0": (lambda b: {"config": _config(b, top_stride=[0, 2, 2])}, "config.top_stride[0] is 0"),
    "blocks-short": (lambda b: {"config": _config(b, decoder_blocks=[1])}, "config.decoder_blocks has 1 entries, not 2"),
    "points-beyond-stages": (lambda b: {"config": _config(b, operating_points=[[1, 9]])}, "operating_points[0][1] is 9"),
    "conv": (lambda b: {"config": _config(b, conv="4d")}, "config.conv"),
    "version-str": (lambda b: {"version": "2"}, "version is '2'"),
    "state-list": (lambda b: {"state_dict": [1]}, "state_dict is a list, not a map of tensors"),
    "state-str": (lambda b: {"state_dict": {**b["state_dict"], "enc_top.0.conv.weight": "x"}}, "is a str, not a tensor"),
    "state-missing": (lambda b: {"state_dict": {k: v for i, (k, v) in enumerate(b["state_dict"].items()) if i}},
                      "lacks"),
    "state-extra": (lambda b: {"state_dict": {**b["state_dict"], "spare.weight": torch.zeros(1)}}, "'spare.weight'"),
    "state-int-dtype": (lambda b: {"state_dict": {k: v.to(torch.int64) if v.is_floating_point() else v
                                                  for k, v in b["state_dict"].items()}}, "has dtype torch.int64"),
    "int8-unscaled": (lambda b: {"int8": {"x": torch.zeros(2, dtype=torch.int8)}}, "int8_scales does not list"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_malformed_field_is_one_line_naming_the_file_and_the_field(blob, tmp_path, case):
    change, words = CASES[case]
    p = tmp_path / f"{case}.pt"
    torch.save({**blob, **change(blob)}, p)
    with pytest.raises(WeightsError) as info:
        load_model(p)
    check_message(info.value)
    assert str(p) in str(info.value) and words in str(info.value), str(info.value)


def test_a_config_of_20000_stages_is_refused_before_anything_is_built(blob, tmp_path):
    """Issue #25: an 1.8 KB file whose config asked for 20,000 bottom stages took 11.8 GB and 143 s."""
    p = tmp_path / "stages.pt"
    torch.save({**blob, "config": _config(blob, bottom_stages=20_000, bottom_codebook=1 << 16, latent_dim=1024)}, p)

    def load():
        with pytest.raises(WeightsError, match="bottom_stages is 20000"):
            load_model(p)
    assert peak_mib(load) < 8


def _patch_directory(data: bytes, suffix: bytes, size: int) -> bytes:
    """The zip archive with the central-directory sizes of the record named ``...suffix`` replaced."""
    out = bytearray(data)
    i = out.find(b"PK\x01\x02")
    hit = False
    while i >= 0:
        name = bytes(out[i + 46:i + 46 + struct.unpack_from("<H", out, i + 28)[0]])
        if name.endswith(suffix):
            struct.pack_into("<II", out, i + 20, size, size)
            hit = True
        i = out.find(b"PK\x01\x02", i + 4)
    assert hit
    return bytes(out)


def test_a_zip_record_declared_larger_than_the_file_is_refused_unread(tmp_path):
    """Issue #25: a 4 MB torch zip with one record declared as 4 GiB reached 4.3 GB."""
    p = tmp_path / "record.pt"
    p.write_bytes(_patch_directory(SOURCE.read_bytes(), b"/data/0", 0xFFFFFFF0))
    with pytest.raises(WeightsError, match="declares 4294967280 bytes") as info:
        load_model(p)
    check_message(info.value)
    q = tmp_path / "not-zip.pt"
    q.write_bytes(b"\x80\x02" + bytes(100))
    with pytest.raises(WeightsError, match="not a torch zip archive"):
        load_model(q)


def test_a_ladder_that_inflates_to_64_mib_of_msgpack_is_refused_in_bounded_memory(blob, tmp_path):
    """Issue #25: a ladder blob that zstd-inflated to 64 MiB of msgpack arrays reached 5.0 GB."""
    p = tmp_path / "ladder.pt"
    torch.save({**blob, "version": 3, "priors": {**blob["priors"], "scalar": _u8(_bomb())}}, p)
    model = load_model(p)

    def ladder():
        with pytest.raises(WeightsError, match="zstd frame claims") as info:
            _ = model.ladder
        check_message(info.value)
        assert str(p) in str(info.value)
    assert peak_mib(ladder) < 16


def test_a_ladder_of_millions_of_msgpack_entries_is_refused(blob, tmp_path):
    """The same attack below the zstd ratio cap: 300,000 empty msgpack arrays (300 KB), refused by their count."""
    body = msgpack.packb({"magic": "vqv-ladder", "v": 1, "points": [[[]] * 60_000] * 5, "tables": []})
    p = tmp_path / "entries.pt"
    torch.save({**blob, "version": 3, "priors": {**blob["priors"], "scalar": _u8(
        zstandard.ZstdCompressor(level=1, write_content_size=True).compress(body))}}, p)
    with pytest.raises(WeightsError, match="msgpack entries"):
        _ = load_model(p).ladder


def test_the_cli_reports_a_malformed_weights_file_in_one_line(blob, tmp_path):
    from click.testing import CliRunner

    from vqcodec.cli.main import main
    p = tmp_path / "card.pt"
    torch.save({**blob, "card": 7}, p)
    out = tmp_path / "out.npy"
    for args in (["model-info", "--model", p], ["decode", GOLDEN / "golden_learned.vqv", out, "-q", "--model", p]):
        r = CliRunner().invoke(main, [str(a) for a in args])
        lines = r.stderr.strip().splitlines()
        assert r.exit_code == 1 and len(lines) == 1, (args[0], r.stderr)
        assert lines[0].startswith("vqv: error: ") and "card is an int" in lines[0]
    assert not out.exists()
