"""Hostile .vqv files (issue #13): every one ends in the project's one-line error, quickly and in
bounded memory, never in another exception type, a hang or a decode of garbage.

The files are made here by :mod:`hostile_files`, byte by byte from formats/SPEC.md with every CRC
correct, so each lie reaches the layer that must catch it: the container (``vqcodec.formats``),
the entropy decoder or the codec (``read_gop_codes``, the path of ``vqv codes``/``decode``).
The model is the committed tiny one of the golden tests (it ships static and learned priors).
Here: the builder, huge claims, pipes, long messages, the command line; payloads that lie, index
damage and the fuzz with recomputed CRCs are test_hostile_payloads.py.
"""
from __future__ import annotations

import io
import json
import os
import select
import subprocess
import sys
from pathlib import Path

import hostile_files as hf
import msgpack
import pytest
from hostile_helpers import (
    GOLDEN,
    PRIORS,
    SHORT_PAYLOAD,
    MiB,
    check_message,
    decode_codes,
    forged,
    peak_mib,
    project_error,
)
from hostile_helpers import PROJECT_ERRORS  # noqa: F401 - read as test_hostile.PROJECT_ERRORS by a subprocess test

from vqcodec import pipeline
from vqcodec.entropy.rans import EntropyError
from vqcodec.errors import VqvError, describe_error
from vqcodec.formats import GopChunk, Header, NotVqvError, VqvReader, write_vqv
from vqcodec.formats.errors import MAX_MESSAGE_CHARS
from vqcodec.weights import load_model


@pytest.fixture(scope="module")
def model():
    return load_model(GOLDEN / "tiny_learned.pt")


# --------------------------------------------------------------------------- the builder is the spec


SPEC_EXAMPLE = dict(model_digest=bytes.fromhex("0123456789abcdef"), source_width=60, source_height=34,
                    coded_width=64, coded_height=48, fps_num=25, fps_den=1, frame_count=72, gop_length=32,
                    quality=2, prior="learned", prior_params=b"\x05\x06\x07", gop_prediction=True,
                    copy_mode=True, refresh_interval=2, extra={"note": "hi"})


@pytest.mark.parametrize("case", ["spec-example", "v1", "zstd-params", "extras", "defaults", "no-gop", "large"])
def test_the_builder_writes_what_the_writer_writes(case):
    """hostile_files follows SPEC.md alone; the writer follows the code: the same bytes, so the two agree."""
    h = dict(SPEC_EXAMPLE)
    chunks = [(0, 32, (3, 0), b"\xaa\xbb\xcc", False), (1, 32, (1, 2), b"\xdd", True), (2, 8, (0, 1), b"", False)]
    version = (2, 0)
    if case == "v1":
        version = (1, 0)
        h.update(copy_mode=False, refresh_interval=0, prior="empirical-adaptive")
    elif case == "zstd-params":
        h.update(prior_params=bytes(range(16)) * 64)            # compresses: key 12
    elif case == "extras":
        h.update(extra={16: [1, "x"], 2**40: None, "vendor": {"a": b"\x00"}, "z": -5})
    elif case == "defaults":
        h = dict(model_digest=b"\x01", source_width=64, source_height=64, coded_width=64, coded_height=64,
                 frame_count=72)
        chunks = [(i, n, (), b"", False) for i, n, *_ in chunks]
    elif case == "no-gop":
        h.update(frame_count=0, gop_prediction=False)
        chunks = []
    elif case == "large":
        # multi-byte varints everywhere: a 200-byte payload, symbol counts up to 2**63-1, 70000 frames
        h.update(frame_count=70_000, gop_length=40_000, fps_num=2**32 - 1, quality=-(2**31), refresh_interval=2**32 - 1)
        chunks = [(0, 40_000, (2**63 - 1, 128, 0), bytes(range(200)), False),
                  (1, 30_000, (16384,) * 5, b"\x01" * 127, True)]
    built = hf.VqvFile(hf.header_map(**dict(h)), [hf.chunk(i, n, c, p, pr) for i, n, c, p, pr in chunks], version)
    want = io.BytesIO()
    write_vqv(want, Header(**h), [GopChunk(i, n, c, pr, p) for i, n, c, p, pr in chunks], version=version)
    assert built.bytes() == want.getvalue()
    reader = VqvReader(io.BytesIO(built.bytes()))
    assert reader.header == Header(**h) and reader.version == version
    assert [(c.index, c.frame_count, c.symbol_counts, c.payload, c.predicted) for c in reader] == chunks


# --------------------------------------------------------------------------- huge claimed sizes


@pytest.mark.parametrize("prior", PRIORS)
@pytest.mark.parametrize("copy_mode", [False, True], ids=["no-copy", "copy"])
def test_the_largest_coded_size_with_an_empty_payload_fails_at_once(model, prior, copy_mode):
    """Issue #13 (1): a ~60-byte file claiming a 4096x4096 GOP at the lowest quality, its symbol
    counts matching, its payload empty: refused before any slice's tables are built (the learned
    prior's take hundreds of MB at that size), in a few MB."""
    data = forged(model, side=(4096, 4096), prior=prior, copy_mode=copy_mode)
    assert len(data) < 80
    assert peak_mib(project_error, decode_codes, data, model) < 40


@pytest.mark.parametrize("prior", PRIORS)
def test_a_short_payload_fails_early(model, prior):
    """A payload of 8 bytes for a 1024x1024 GOP: caught once the decoded symbols carry more
    information than its 64 bits can, not after decoding every slice from nothing (with copy
    decisions, whose tables are small, that is within the first slice at 4096x4096)."""
    data = forged(model, side=(1024, 1024), prior=prior, payload=SHORT_PAYLOAD)
    e = project_error(decode_codes, data, model)
    assert "ends before its symbols do" in str(e)
    copied = forged(model, side=(4096, 4096), prior=prior, copy_mode=True, payload=SHORT_PAYLOAD)
    assert peak_mib(project_error, decode_codes, copied, model) < 40      # copy decisions come first


def test_a_coded_size_beyond_the_codecs_bound_is_refused_before_decoding(model):
    for side in ((16384, 16384), (4097, 16), (16, 65535)):
        e = project_error(decode_codes, forged(model, side=side, counts=[0]), model)
        assert "exceeds 4096" in str(e)


@pytest.mark.parametrize("frame_count,gop_length", [(2**32 - 1, 1), (2**32 - 1, 32), (32 * 10**6, 32)])
def test_a_huge_frame_or_gop_count_is_refused_from_the_file_size(model, frame_count, gop_length):
    hmap = hf.header_map(model_digest=model.digest, source_width=40, source_height=48, frame_count=frame_count,
                         gop_length=gop_length)
    data = hf.VqvFile(hmap, [hf.chunk(0, gop_length, (0,))]).bytes()
    e = project_error(VqvReader, io.BytesIO(data))
    assert "GOPs" in str(e) or "chunks" in str(e)


def test_an_index_of_millions_of_entries_is_refused_before_it_is_expanded(model):
    """Issue #13 (3): 8 MiB of one-byte entries under a header claiming as many GOPs once cost 630 MB."""
    n = 8 * MiB
    hmap = hf.header_map(model_digest=model.digest, source_width=40, source_height=48, frame_count=n, gop_length=1)
    data = hf.VqvFile(hmap, [hf.chunk(0, 1, ())], index_bytes=b"\x13" * n).bytes()
    peak = peak_mib(project_error, VqvReader, io.BytesIO(data))
    assert peak < 2 * len(data) / MiB + 4          # the file's bytes, nothing per entry


@pytest.mark.parametrize("what", ["streams-over-limit", "streams-1e9", "streams-4096", "count-2**63",
                                  "count-2**64", "count-off-by-one", "payload-len-2**28+1", "payload-len-lies"])
def test_huge_or_wrong_chunk_tables_are_refused(model, what):
    kw: dict = {}
    counts = [240]
    if what == "streams-over-limit":
        counts = [0] * 4097
    elif what == "streams-1e9":
        kw = dict(stream_count=10**9)
    elif what == "streams-4096":
        counts = [1] * 4096                       # the container's limit: the codec expects 1 stream
    elif what == "count-2**63":
        counts = [2**63 - 1]
    elif what == "count-2**64":
        counts = [2**64]
    elif what == "count-off-by-one":
        counts = [241]
    elif what == "payload-len-2**28+1":
        kw = dict(payload_len=(1 << 28) + 1)
    elif what == "payload-len-lies":
        kw = dict(payload_len=5)
    hmap = hf.header_map(model_digest=model.digest, source_width=40, source_height=48, frame_count=32, quality=1)
    data = hf.VqvFile(hmap, [hf.chunk(0, 32, counts, b"\x07" * 4, **kw)]).bytes()
    assert peak_mib(project_error, decode_codes, data, model) < 8


def test_huge_header_claims_are_refused(model):
    digest = model.digest
    claims = [
        {0: digest, 1: 40, 2: 48, 11: b"x", 12: b"y"},                                   # both prior_params keys
        {0: digest, 1: 40, 2: 48, 7: 2**32},                                            # frame_count > u32
        {0: digest, 1: 65536, 2: 48},                                                   # width > u16
        {0: digest, 1: 40, 2: 48, 8: 0},                                                # gop_length 0
        {0: digest, 1: 40, 2: 48, 9: 2**31},                                            # quality > i32
        {0: digest, 1: 40, 2: 48, 10: 4},                                               # prior kind
        {0: b"", 1: 40, 2: 48},                                                         # empty digest
        {0: digest, 1: 40, 2: 48, 12: _zstd_frame_claiming(1 << 40)},                   # zstd content size
    ]
    for m in claims:
        data = hf.VqvFile(msgpack.packb(m, use_bin_type=True)).bytes()
        project_error(VqvReader, io.BytesIO(data))
    head = hf.MAGIC + b"\x02\x00" + hf.varint((1 << 20) + 1)                           # header length > 1 MiB
    project_error(VqvReader, io.BytesIO(head + b"\x00" * 64))


def _zstd_frame_claiming(size: int) -> bytes:
    """A zstd frame header announcing ``size`` bytes of content (8-byte content-size field), no data."""
    return b"\x28\xb5\x2f\xfd" + bytes([0xE0]) + size.to_bytes(8, "little")     # single segment


def test_a_zstd_bomb_in_prior_params_stays_within_its_bound(model):
    """16 MiB of zeros compress to a few hundred bytes: allowed up to the 16 MiB bound, then the
    adaptive prior refuses the content; a frame claiming one byte more is refused unread."""
    import zstandard
    m = {0: model.digest, 1: 40, 2: 48, 7: 32, 9: 1, 10: 2}
    m[12] = zstandard.ZstdCompressor(level=19, write_content_size=True).compress(bytes(16 * MiB))
    data = hf.VqvFile(msgpack.packb(m, use_bin_type=True), [hf.chunk(0, 32, [240], SHORT_PAYLOAD)]).bytes()
    assert len(data) < 4096
    assert peak_mib(project_error, decode_codes, data, model) < 3 * 16 + 8
    m[12] = zstandard.ZstdCompressor(level=19, write_content_size=True).compress(bytes(16 * MiB + 1))
    data = hf.VqvFile(msgpack.packb(m, use_bin_type=True), [hf.chunk(0, 32, [240], SHORT_PAYLOAD)]).bytes()
    assert "exceeds limit" in str(project_error(VqvReader, io.BytesIO(data)))


def test_scale_to_source_refuses_a_huge_source_size_before_writing(model, tmp_path):
    """Issue #13 (2): the header's source size is bounded (8192 per side) before any output exists."""
    src = tmp_path / "huge.vqv"
    src.write_bytes(forged(model, side=(65535, 65535), coded=(40, 48), payload=SHORT_PAYLOAD))
    out = tmp_path / "out.npy"
    e = project_error(pipeline.decode_file, src, out, model=model, scale_to_source=True, progress=False)
    assert "exceeds 8192" in str(e) and not out.exists()


def test_the_worst_files_decode_in_a_process_with_256_mib_of_headroom(tmp_path):
    """The same files in a child process whose address space is capped at its size after start-up
    + 256 MiB, so that allocations tracemalloc cannot see (the rANS coder's, torch's) count too.
    Before the early end of a payload that runs out, the learned prior's empty-payload file needed
    about 450 MB there (and 1.1 GB with the shipped model)."""
    script = r"""
import json, resource, sys
sys.path.insert(0, sys.argv[1])
import test_hostile as th
from vqcodec.weights import load_model
m = load_model(th.GOLDEN / "tiny_learned.pt")
size = int(open("/proc/self/statm").read().split()[0]) * resource.getpagesize()
resource.setrlimit(resource.RLIMIT_AS, (size + (256 << 20), resource.RLIM_INFINITY))
out = []
for prior in th.PRIORS:
    for side, copy_mode, payload in (((4096, 4096), False, b""), ((4096, 4096), True, b""),
                                     ((4096, 4096), True, th.SHORT_PAYLOAD), ((1024, 1024), False, th.SHORT_PAYLOAD)):
        try:
            th.decode_codes(th.forged(m, side=side, prior=prior, copy_mode=copy_mode, payload=payload), m)
            out.append("decoded")
        except th.PROJECT_ERRORS as e:
            out.append(type(e).__name__)
print(json.dumps(out))
"""
    r = subprocess.run([sys.executable, "-c", script, str(Path(__file__).parent)], capture_output=True, text=True,
                       timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads(r.stdout.splitlines()[-1]) == ["EntropyError"] * (4 * len(PRIORS))


# --------------------------------------------------------------------------- pipes


class TrapStream(io.RawIOBase):
    """A non-seekable stream of ``data`` (then endless zeros if ``endless``) that fails the test if
    more than ``limit`` bytes are asked of it (so nothing reads a wrong stream whole)."""

    def __init__(self, data: bytes, limit: int, endless: bool = False) -> None:
        self.data, self.limit, self.endless, self.pos = memoryview(data), limit, endless, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        assert self.pos + len(buf) <= self.limit, f"{self.pos + len(buf)} bytes asked of the stream"
        part = self.data[self.pos:self.pos + len(buf)]
        n = len(buf) if self.endless else len(part)
        buf[:n] = bytes(part) + bytes(n - len(part))
        self.pos += n
        return n


@pytest.mark.parametrize("start", [b"RIFF....WAVE", b"\x00" * 8, b"VQX", b"\x1a\x45\xdf\xa3", b"V"])
def test_a_pipe_of_something_else_is_refused_after_its_first_bytes(start):
    e = project_error(VqvReader, TrapStream(start, limit=3, endless=True))
    assert isinstance(e, NotVqvError)


def test_a_pipe_that_never_ends_is_refused_without_waiting_for_its_end():
    """A real pipe whose writer stays open: the reader must not wait for the end of the stream."""
    code = ("import sys\nfrom vqcodec.formats import VqvReader, NotVqvError\n"
            "try:\n    VqvReader(sys.stdin.buffer)\nexcept NotVqvError as e:\n    print(e)\n")
    p = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=False)
    try:
        p.stdin.write(b"GIF89a....")
        p.stdin.flush()
        assert select.select([p.stdout], [], [], 60)[0], "the reader is still waiting for the pipe to end"
        out = p.stdout.readline()
        assert out.startswith(b"not a .vqv file"), out
    finally:
        p.stdin.close()
        p.wait(timeout=30)


def test_a_long_pipe_is_spooled_not_held_in_memory():
    hmap = hf.header_map(model_digest=b"\x01" * 8, source_width=64, source_height=64, frame_count=24 * 32)
    f = hf.VqvFile(hmap, [hf.chunk(i, 32, (1,), bytes([i + 1]) * MiB) for i in range(24)])
    data = f.bytes()

    def read():
        stream = TrapStream(data, limit=len(data) + (1 << 21))
        r = VqvReader(stream)
        assert len(r) == 24 and r.read_chunk(23).payload == bytes([24]) * MiB
    stream_peak = peak_mib(read)
    assert stream_peak < 16 + 2                     # the spool's 8 MiB, a copy buffer and one chunk


# --------------------------------------------------------------------------- long messages


def test_every_message_is_one_capped_line(model):
    huge = "x" * 50_000
    lines = "\n".join([huge] * 3)
    files = [
        hf.VqvFile(msgpack.packb({0: b"1", 1: 4, 2: 4, 10: lines})),                          # unknown prior
        hf.VqvFile(msgpack.packb({0: b"1", 1: 4, 2: 4, b"k\n" * 30_000: 1}, use_bin_type=True)),  # bin key
        hf.VqvFile(b"\x85\x00\xc4\x01\x31\x01\x04\x02\x04" + msgpack.packb(lines) + b"\x01"
                   + msgpack.packb(lines) + b"\x02"),                                         # duplicate key
        hf.VqvFile(msgpack.packb({0: b"1", 1: 4, 2: 4, 1.5: lines})),                         # float key
        hf.VqvFile(msgpack.packb({0: b"1", 1: 4, 2: lines})),                                 # wrong type
    ]
    for f in files:
        project_error(VqvReader, io.BytesIO(f.bytes()))
    # a chunk of 4096 streams against a model with 1: the codec's message does not list them
    data = forged(model, counts=[123456789] * 4096)
    project_error(decode_codes, data, model)
    check_message(EntropyError("stream " + "very-long-name\n" * 2000))
    assert len(describe_error(VqvError(lines))) <= MAX_MESSAGE_CHARS


# --------------------------------------------------------------------------- the command line


def test_the_cli_reports_hostile_files_in_one_line(model, tmp_path):
    """`vqv codes`, `decode` and `info` on hostile files: exit status 1, one capped line, no traceback."""
    from click.testing import CliRunner

    from vqcodec.cli.main import main
    weights = str(GOLDEN / "tiny_learned.pt")
    files = {"empty-payload": forged(model, side=(4096, 4096), prior="learned"),
             "huge-size": forged(model, side=(16384, 16384), counts=[0]),
             "streams": forged(model, counts=[7] * 4096),
             "not-vqv": b"RIFF" + bytes(100)}
    for name, data in files.items():
        src = tmp_path / f"{name}.vqv"
        src.write_bytes(data)
        for args in (["codes", src, tmp_path / "o.npz", "--model", weights],
                     ["decode", src, tmp_path / "o.npy", "--model", weights, "-q"],
                     ["info", src, "--model", weights]):
            r = CliRunner().invoke(main, [str(a) for a in args])
            lines = r.stderr.strip().splitlines()
            if name != "not-vqv" and args[0] == "info":     # info shows what it can read
                assert r.exit_code == 0 or len(lines) == 1, (name, args[0], r.stderr)
                continue
            assert r.exit_code == 1 and len(lines) == 1, (name, args[0], r.stderr)
            assert lines[0].startswith("vqv: error: ") and len(lines[0]) <= len("vqv: error: ") + MAX_MESSAGE_CHARS
            assert not (tmp_path / "o.npz").exists() and not (tmp_path / "o.npy").exists()
