"""Issue #25: small files that claim gigabytes or hours, and names that rewrite the terminal. Each ends
in one line and a non-zero exit, in bounded memory and time. Files are crafted here by hand
(hostile_files: bytes from SPEC.md; y4m text), not with vqv's writer.
"""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from fractions import Fraction

import hostile_files as hf
import msgpack
import numpy as np
import pytest
import zstandard
from hostile_helpers import (
    GOLDEN,
    SHORT_PAYLOAD,
    MiB,
    check_message,
    decode_codes,
    forged,
    peak_mib,
    project_error,
)

from vqcodec.entropy.blob import MAX_MSGPACK_TOTAL, unpack_msgpack, zstd_decompress
from vqcodec.entropy.rans import EntropyError
from vqcodec.errors import VqvError, describe_error, one_line, printable
from vqcodec.formats import GopChunk, VqvFormatError, VqvReader, check_payload_present
from vqcodec.formats import container as container_mod
from vqcodec.io import timing
from vqcodec.io.writer import check_frame_pattern
from vqcodec.weights import load_model


@pytest.fixture(scope="module")
def model():
    return load_model(GOLDEN / "tiny_learned.pt")


def _msgpack_bomb(mib: int) -> bytes:
    n = mib * MiB - 5
    return b"\xdd" + n.to_bytes(4, "big") + b"\x90" * n


# --------------------------------------------------------------------------- bounded decompression


def test_adaptive_prior_side_info_that_inflates_to_64_mib_is_refused_unread(model):
    """Issue #25: a 2.6 KB file whose adaptive-prior side information was a zstd frame of 64 MiB of
    msgpack arrays reached 5.0 GB in `decode` and `info`."""
    params = b"\x01" + zstandard.ZstdCompressor(level=19, write_content_size=True).compress(_msgpack_bomb(64))
    data = forged(model, prior="empirical-adaptive", params=params, payload=SHORT_PAYLOAD)
    assert len(data) < 4096
    e = project_error(decode_codes, data, model)
    assert "zstd frame claims" in str(e)
    assert peak_mib(project_error, decode_codes, data, model) < 8


def test_blobs_are_inflated_within_a_ratio_of_their_size_and_their_entries_counted():
    small = zstandard.ZstdCompressor(level=19, write_content_size=True).compress(bytes(900_000))
    assert len(zstd_decompress(small, "x")) == 900_000                  # within the fixed allowance
    big = zstandard.ZstdCompressor(level=19, write_content_size=True).compress(bytes(8 * MiB))
    with pytest.raises(EntropyError, match="zstd frame claims"):
        zstd_decompress(big, "x")
    nested = msgpack.packb([[[]] * 60_000] * 5)                         # 300,000 arrays in 300 KB
    with pytest.raises(EntropyError, match=f"more than {MAX_MSGPACK_TOTAL} msgpack entries"):
        unpack_msgpack(nested, "x")
    with pytest.raises(EntropyError, match="corrupt msgpack"):
        unpack_msgpack(b"\xdd\xff\xff\xff\xff", "x")                    # one array of 4 billion entries
    assert unpack_msgpack(msgpack.packb({"a": [1, 2], "b": b"x" * 100}), "x") == {"a": [1, 2], "b": b"x" * 100}


# --------------------------------------------------------------------------- version 1.0 payloads


def _v1_empty_payloads(data: bytes) -> bytes:
    reader = VqvReader(io.BytesIO(data))
    chunks = [hf.chunk(c.index, c.frame_count, c.symbol_counts, b"", c.predicted) for c in reader]
    return hf.VqvFile(hf.header_map_of(data), chunks, (1, 0)).bytes()


def test_a_version_1_chunk_with_symbols_and_no_payload_is_refused_by_the_check():
    check_payload_present(GopChunk(0, 32, (0, 0), False, b""), "GOP 0")              # nothing to decode
    check_payload_present(GopChunk(0, 32, (5,), False, b"\x01\x00\x00\x00"), "GOP 0")
    with pytest.raises(VqvFormatError, match="GOP 3: 12 symbols but an empty payload"):
        check_payload_present(GopChunk(3, 32, (5, 7), False, b""), "GOP 3")


def test_a_version_1_file_whose_payloads_are_gone_is_an_error(model):
    """Issue #25: an 82-byte 1.0 file whose payloads are empty while the symbol counts are kept
    decoded to zeros and exited 0."""
    data = _v1_empty_payloads((GOLDEN / "golden_learned.vqv").read_bytes())
    project_error(decode_codes, data, model)


# --------------------------------------------------------------------------- info


def test_info_does_not_decode_codes_of_a_version_1_file(tmp_path):
    """Issue #25: a 1.0 file with one empty 4096x4096 GOP at a scalar quality and the copy-mode key
    (which 1.x files never use) made `info` decode every symbol: 45-84 s, 1.2-1.5 GB, exit 0."""
    from vqcodec import pipeline
    from vqcodec.coding.gops import GOP_FRAMES, gop_layout, padded_size

    m = load_model(GOLDEN / "tiny_scalar.pt")
    q = next(q for q, p in enumerate(m.ladder.points, 1) if p.scalar)
    pw, ph = padded_size(4096, 4096, m.cfg.stride)
    layout = gop_layout(m, m.point(q), GOP_FRAMES, ph, pw)
    counts = [int(np.prod(lv.grid)) * (m.cfg.latent_dim if lv.stages == 0 else 1) for lv in layout]
    hmap = hf.header_map(model_digest=m.digest, source_width=4096, source_height=4096, frame_count=32,
                         quality=q, copy_mode=True)
    src = tmp_path / "v1.vqv"
    src.write_bytes(hf.VqvFile(hmap, [hf.chunk(0, 32, counts)], (1, 0)).bytes())
    report = pipeline.file_info(src, model=m)
    assert report["format_version"] == "1.0" and "copied" not in report and "copy_stats" not in report


_CAPPED_INFO = r"""
import json, resource, sys
import vqcodec.pipeline      # torch and the codec are loaded before the cap
from vqcodec.cli.main import main
size = int(open("/proc/self/statm").read().split()[0]) * resource.getpagesize()
resource.setrlimit(resource.RLIMIT_AS, (size + (256 << 20), resource.RLIM_INFINITY))
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
codes = []
for damage in (False, True):
    if damage:                          # then the last chunk's CRC, one bit off
        with open(sys.argv[1], "r+b") as f:
            f.seek(int(sys.argv[2]))
            f.write(bytes([f.read(1)[0] ^ 1]))
    try:
        main(["info", "--json", sys.argv[1]], prog_name="vqv")
    except SystemExit as e:
        codes.append(e.code)
print(json.dumps({"codes": codes, "growth_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base}))
"""


def test_info_on_gigabytes_of_payloads_reads_them_in_bounded_memory(tmp_path):
    """Issue #25: `info` on a 3 GiB sparse .vqv (12 chunks of 256 MiB zero payload) reached 3.8 GB: it
    held every payload. It checks each chunk's CRC in blocks now (here 4 chunks of 256 MiB, the cap, in
    256 MiB of headroom); a damaged one is still an error. docs/reliability.md has the 3 GiB file's figures."""
    src = tmp_path / "sparse.vqv"
    hmap = hf.header_map(model_digest=b"\x01" * 8, source_width=64, source_height=64, frame_count=4 * 32, quality=1)
    crc_at = hf.sparse_file(src, hmap, 4, 256 * MiB, counts=(1000,))
    if os.stat(src).st_blocks * 512 > 64 * MiB:
        pytest.skip("this file system does not keep sparse files")
    r = subprocess.run([sys.executable, "-c", _CAPPED_INFO, str(src), str(crc_at[-1])], capture_output=True,
                       text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr[-2000:]
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert result["codes"] == [0, 1] and result["growth_kib"] < 64 * 1024, result
    assert f"{src}: CRC mismatch in GOP 3" in r.stderr
    report = json.loads(r.stdout[:r.stdout.rindex("\n{")])
    assert [g["payload_bytes"] for g in report["gops"]] == [256 * MiB] * 4


def test_chunk_fields_verify_as_read_chunk_does():
    """VqvReader.chunk_fields (blocks, no payload held) and read_chunk agree, and refuse the same damage."""
    data = (GOLDEN / "golden_learned.vqv").read_bytes()
    reader = VqvReader(io.BytesIO(data))
    for i in range(len(reader)):
        c, f = reader.read_chunk(i), reader.chunk_fields(i)
        assert (f.index, f.frame_count, f.predicted, f.symbol_counts, f.payload_len) == \
            (c.index, c.frame_count, c.predicted, c.symbol_counts, len(c.payload))
    flipped = bytearray(data)
    flipped[reader._offsets[1] + 9] ^= 1             # a payload byte of GOP 1
    reader = VqvReader(io.BytesIO(bytes(flipped)))
    for read in (reader.read_chunk, reader.chunk_fields):
        with pytest.raises(VqvFormatError, match="CRC mismatch in GOP 1"):
            read(1)


# --------------------------------------------------------------------------- PNG output patterns


@pytest.mark.parametrize("pattern, says", [("%2000000000d.png", "at most 32 wide"), ("%0300d.png", "at most 32 wide"),
                                           ("%99999999999999999999999d.png", "at most 32 wide"),
                                           ("%s%06d.png", "one %d field"), ("a" * 250 + "%06d.png", "255 bytes")])
def test_a_png_pattern_that_cannot_name_files_is_a_usage_error_before_anything_is_allocated(tmp_path, pattern, says):
    """Issue #25: decoding to `out/%2000000000d.png` reached 6.1 GB before "File name too long"."""
    from click.testing import CliRunner

    from vqcodec.cli.main import main
    out = tmp_path / "out"
    out.mkdir()
    args = ["decode", str(GOLDEN / "golden_learned.vqv"), str(out / pattern), "--model", str(GOLDEN / "tiny_learned.pt")]
    result = {}
    assert peak_mib(lambda: result.update(r=CliRunner().invoke(main, args))) < 8
    r = result["r"]
    assert r.exit_code == 2 and says in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert os.listdir(out) == []
    check_frame_pattern("%032d.png", "ok")            # the widest field allowed


# --------------------------------------------------------------------------- file names in messages


def test_errors_about_a_file_name_the_file_escaped(model, tmp_path):
    """Issue #25: errors from parsing a file (its prior's side information, its payloads, its CRCs) did
    not say which file; the name is escaped like every name from the file system."""
    from click.testing import CliRunner

    from vqcodec.cli.main import main
    params = b"\x01" + zstandard.ZstdCompressor(level=19, write_content_size=True).compress(_msgpack_bomb(64))
    src = tmp_path / "evil\x1b[2J.vqv"
    src.write_bytes(forged(model, prior="empirical-adaptive", params=params, payload=SHORT_PAYLOAD))
    weights = str(GOLDEN / "tiny_learned.pt")
    for args in (["decode", src, tmp_path / "o.npy"], ["codes", src, tmp_path / "o.npz"],
                 ["latents", src, tmp_path / "o.npz"]):
        r = CliRunner().invoke(main, [str(a) for a in args] + ["--model", weights])
        assert r.exit_code == 1 and r.stderr.startswith(f"vqv: error: {printable(src)}: adaptive prior params"), \
            (args[0], r.stderr)
        assert "\x1b" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_a_weights_file_whose_prior_does_not_parse_is_named(tmp_path):
    import torch

    from vqcodec.coding.prior_choice import learned_prior, static_prior
    from vqcodec.weights import WeightsError
    blob = torch.load(GOLDEN / "tiny_learned.pt", map_location="cpu", weights_only=True)
    junk = torch.frombuffer(bytearray(b"\x07junk"), dtype=torch.uint8)
    p = tmp_path / "w.pt"
    torch.save({**blob, "priors": {"empirical-static": junk, "learned": junk}}, p)
    m = load_model(p)
    for read, kind in ((static_prior, "empirical-static"), (learned_prior, "learned")):
        with pytest.raises(WeightsError, match=f"w.pt: the model's {kind} prior is unusable"):
            read(m)


def test_a_pipe_is_spooled_up_to_a_cap(monkeypatch):
    """Issue #25: `info` on a FIFO that never ends spooled 1.7 GB to the temporary folder."""
    monkeypatch.setattr(container_mod, "MAX_SPOOL_BYTES", 4 * MiB)

    class Endless(io.RawIOBase):
        def __init__(self):
            self.sent = 0

        def readable(self):
            return True

        def readinto(self, buf):
            head = hf.MAGIC + b"\x02\x00" if self.sent == 0 else b""
            n = len(buf)
            buf[:n] = (head + bytes(n))[:n]
            self.sent += n
            return n
    stream = Endless()
    e = project_error(VqvReader, stream)
    assert "longer than 4194304 bytes" in str(e) and stream.sent <= 5 * MiB


# --------------------------------------------------------------------------- names that are escape sequences


def test_control_characters_in_names_are_escaped_in_messages_and_reports():
    from vqcodec.cli import reports

    name = "clip\x1b]0;owned\x07\x1b[2J\nline2\udcff.vqv"
    shown = printable(name)
    assert shown == "clip\\x1b]0;owned\\x07\\x1b[2J\\nline2\\udcff.vqv"
    assert all(c.isprintable() for c in shown)
    assert "\x1b" not in one_line(f"{name}: no such file") and "\x1b" not in describe_error(VqvError(name))
    out = reports.format_codes({"output": name, "gops": 1, "quality": 1, "arrays": {}})
    assert "\x1b" not in out and "\n" not in out and "\\x1b" in out
    out = reports.format_decode({"output": name, "frames": 1, "size": [2, 2], "fps": "1", "decode_seconds": 1,
                                 "decode_fps": 1})
    assert "\x1b" not in out and "\n" not in out


def test_the_cli_escapes_a_file_name_in_its_error(tmp_path):
    from click.testing import CliRunner

    from vqcodec.cli.main import main
    bad = tmp_path / "evil\x1b[31m\nname.vqv"
    bad.write_bytes(b"RIFF" + bytes(64))
    r = CliRunner().invoke(main, ["info", str(bad)])
    assert r.exit_code == 1 and "\x1b" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


# --------------------------------------------------------------------------- codes: no clobber


@pytest.mark.parametrize("command, module, reader", [("codes", "vqcodec.pipeline", "read_codes"),
                                                     ("latents", "vqcodec.latents", "read_latents")])
def test_codes_does_not_replace_a_dangling_symlink_or_a_file_that_appeared(tmp_path, monkeypatch, command, module,
                                                                           reader):
    import importlib

    from click.testing import CliRunner

    from vqcodec.cli.main import main
    weights = str(GOLDEN / "tiny_learned.pt")
    src = str(GOLDEN / "golden_learned.vqv")
    link = tmp_path / "link.npz"
    os.symlink(tmp_path / "nowhere", link)
    r = CliRunner().invoke(main, [command, src, str(link), "--model", weights])
    assert r.exit_code == 1 and link.is_symlink() and not (tmp_path / "nowhere").exists(), r.stderr
    out = tmp_path / "late.npz"
    mod = importlib.import_module(module)
    real = getattr(mod, reader)

    def racing(*a, **kw):
        out.write_bytes(b"theirs")             # another program writes OUT while vqv works
        return real(*a, **kw)
    monkeypatch.setattr(mod, reader, racing)
    r = CliRunner().invoke(main, [command, src, str(out), "--model", weights])
    assert r.exit_code == 1 and out.read_bytes() == b"theirs", r.stderr
    assert not [p for p in os.listdir(tmp_path) if "tmp" in p]


# --------------------------------------------------------------------------- the resampler


def test_a_y4m_declaring_one_frame_per_million_seconds_is_refused_not_resampled(tmp_path):
    """Issue #25: a y4m stream declaring 1/1000000 fps, encoded with --fps 16, asked for 16 million frames."""
    from vqcodec.io.reader import open_video

    p = tmp_path / "slow.y4m"
    p.write_bytes(b"YUV4MPEG2 W16 H16 F1:1000000 Ip A1:1 C420jpeg\n" + (b"FRAME\n" + bytes(16 * 16 * 3 // 2)) * 2)
    _, frames = open_video(p, fps=Fraction(16))
    with pytest.raises(timing.TimingError) as info:
        for _ in frames:
            pass
    check_message(info.value)
    assert str(p) in str(info.value) and "1/1000000 fps" in str(info.value)


def test_frames_far_apart_cannot_ask_for_hundreds_of_thousands_of_frames():
    """Issue #25: an mkv declaring 1000 fps with frames 29 s apart asked for ~522,000 frames. Timed
    frames are given here as the demuxer gives them (times relative to the first frame)."""
    frames = [(Fraction(29 * i), np.zeros((2, 2, 3), np.uint8)) for i in range(18)]
    warned = []
    with pytest.raises(timing.TimingError, match="clip.mkv: its frame rate or timestamps ask for more than"):
        sum(1 for _ in timing.constant_rate(iter(frames), Fraction(1000), "clip.mkv", warned.append))
    with pytest.raises(timing.TimingError):
        sum(1 for _ in timing.resample(iter(frames), Fraction(1000), Fraction(1, 1000), "clip.mkv"))
    # what a real slideshow asks for still comes out: 10 images, 5 s each, at 60 fps
    slides = [(Fraction(5 * i), np.zeros((2, 2, 3), np.uint8)) for i in range(10)]
    assert sum(1 for _ in timing.resample(iter(slides), Fraction(60), Fraction(5))) == 3000
    assert sum(1 for _ in timing.constant_rate(iter(slides), Fraction(60), "s", warned.append)) == 2701
