"""Hostile .vqv files whose payloads or index lie with every CRC correct, and a fuzz of random lies:
each ends in a project error, decodes to exactly the original codes or to another valid file's,
never into garbage (see test_hostile.py).
"""
from __future__ import annotations

import io
import random

import hostile_files as hf
import msgpack
import numpy as np
import pytest
from hostile_helpers import GOLDEN, PRIORS, PROJECT_ERRORS, MiB, check_message, decode_codes, project_error, read_all

from vqcodec.codes import CodeLevel, Codes
from vqcodec.coding.decoder import read_gop_codes
from vqcodec.coding.encoder import EncodedGop, write_container
from vqcodec.coding.gop_coding import encode_gop, layout_of
from vqcodec.coding.prior_choice import candidate_priors
from vqcodec.formats import GopChunk, VqvReader
from vqcodec.settings import EncodeSettings
from vqcodec.weights import load_model


@pytest.fixture(scope="module")
def model():
    return load_model(GOLDEN / "tiny_learned.pt")


# --------------------------------------------------------------------------- payloads that lie


def _base_gops(model) -> list:
    """Two GOPs of the golden v2 file (a refresh point, then a GOP predicted from it), as codes."""
    reader = VqvReader(io.BytesIO((GOLDEN / "golden_v2.vqv").read_bytes()))
    return [EncodedGop(g.codes, g.frames, g.index == 0) for g in read_gop_codes(reader, model, [0, 1])]


@pytest.fixture(scope="module")
def base_files(model) -> dict:
    return make_base_files(model)


def make_base_files(model) -> dict:
    """``(prior, copy_mode) -> (file bytes, decoded codes)``: valid two-GOP files for every prior,
    and the golden version-1.0 file."""
    gops = _base_gops(model)
    plain = [EncodedGop(Codes(tuple(CodeLevel(lv.name, lv.codebook_size, lv.indices) for lv in g.codes.levels)),
                              g.frames, g.refresh) for g in gops]
    out = {}
    for prior in PRIORS:
        for copy_mode in (False, True):
            buf = io.BytesIO()
            settings = EncodeSettings(3, model.point(3), prior, rdo_strength=float(copy_mode), refresh=0, motion=False)
            write_container(buf, model, settings, gops if copy_mode else plain, source_size=(40, 48),
                            coded_size=(40, 48), fps=16)
            out[prior, copy_mode] = buf.getvalue(), decode_codes(buf.getvalue(), model)
    v1 = (GOLDEN / "golden_learned.vqv").read_bytes()        # version 1.0: no end check, no copies
    out["v1-learned", False] = v1, decode_codes(v1, model)
    return out


def parts(data: bytes) -> tuple[hf.VqvFile, list[GopChunk]]:
    """A file as the builder's parts (header map, version) and its chunks' fields."""
    reader = VqvReader(io.BytesIO(data))
    return hf.VqvFile(hf.header_map_of(data), [], reader.version), list(reader)


def rebuild(f: hf.VqvFile, chunks: list[GopChunk]) -> bytes:
    f.chunks = [hf.chunk(c.index, c.frame_count, c.symbol_counts, c.payload, c.predicted) for c in chunks]
    return f.bytes()


PAYLOAD_LIES = {
    "empty": lambda p, other: b"",
    "one word": lambda p, other: p[-4:],
    "last word cut": lambda p, other: p[:-4],
    "first word cut": lambda p, other: p[4:],
    "half": lambda p, other: p[: len(p) // 8 * 4],
    "word added at the end": lambda p, other: p + b"\x01\x00\x00\x00",
    "word added in front": lambda p, other: b"\x5a\x5a\x5a\x5a" + p,
    "not whole words": lambda p, other: p + b"\x01",
    "random": lambda p, other: random.Random(len(p)).randbytes(len(p) - 1) + b"\x01",
}


@pytest.mark.parametrize("prior", PRIORS)
@pytest.mark.parametrize("copy_mode", [False, True], ids=["no-copy", "copy"])
def test_empty_short_and_overlong_payloads_with_valid_crcs_fail(model, base_files, prior, copy_mode):
    data, _ = base_files[prior, copy_mode]
    f, chunks = parts(data)
    for gop in (0, 1):
        for name, lie in PAYLOAD_LIES.items():
            forged_chunks = list(chunks)
            c = chunks[gop]
            forged_chunks[gop] = GopChunk(c.index, c.frame_count, c.symbol_counts, c.predicted,
                                          lie(c.payload, chunks[1 - gop].payload))
            e = project_error(decode_codes, rebuild(f, forged_chunks), model)
            assert f"GOP {gop}" in str(e), (name, str(e))


@pytest.mark.parametrize("prior", PRIORS)
@pytest.mark.parametrize("copy_mode", [False, True], ids=["no-copy", "copy"])
def test_a_payload_moved_to_another_gop_fails_or_decodes_as_that_gop(model, base_files, prior, copy_mode):
    """A valid payload under another GOP's CRC-valid framing is a valid payload: with a context-free
    prior and no copies it decodes to that GOP's codes (nothing in the bytes says otherwise); with
    context or copy decisions it fails. Never anything else."""
    data, want = base_files[prior, copy_mode]
    f, (c0, c1) = parts(data)
    swapped = [GopChunk(0, c0.frame_count, c0.symbol_counts, False, c1.payload), c1]
    try:
        got = decode_codes(rebuild(f, swapped), model)
    except PROJECT_ERRORS as e:
        check_message(e)
    else:
        assert prior not in ("learned", "rank") and not copy_mode
        assert _same_codes(got[:1], want[1:]) and _same_codes(got[1:], want[1:])


def test_a_version_1_payload_cut_short_is_an_error_unless_it_is_gone(model):
    """Version 1 has no end check: a cut payload still fails (a stack coder that is not back in its
    empty state), but an empty one decodes as all-zero codes, exactly as an encoder of 1.0 writes
    an all-zero GOP. That limitation of 1.x is why 2.0 ends every payload with two check bytes.
    (Issue #25 refuses the empty case too, with formats.check_payload_present: test_hostile_limits.)"""
    data = (GOLDEN / "golden_learned.vqv").read_bytes()
    f, chunks = parts(data)
    for cut in (lambda p: p[:-4], lambda p: p[4:], lambda p: p[: len(p) // 2 // 4 * 4]):
        c = chunks[1]
        lied = chunks[:1] + [GopChunk(1, c.frame_count, c.symbol_counts, c.predicted, cut(c.payload))] + chunks[2:]
        project_error(decode_codes, rebuild(f, lied), model)


# --------------------------------------------------------------------------- index claims and damage


def test_index_claims_beyond_the_file_are_refused(model, base_files):
    data, _ = base_files["uniform", True]
    f, chunks = parts(data)
    f.chunks = [hf.chunk(c.index, c.frame_count, c.symbol_counts, c.payload, c.predicted) for c in chunks]
    honest = hf.index_entries(f.chunks)
    for index in ([honest[0], honest[1] + 2], [honest[0] + (1 << 40), honest[1]], [honest[0], 2**64 - 1],
                  [honest[0] - 2, honest[1] + 2], [honest[0]], honest + [honest[1]], [3, 3]):
        project_error(read_all, hf.VqvFile(f.hmap, f.chunks, index=index).bytes())
    for index_len in (len(data), 2**32 - 1, 64 * MiB + 1):
        project_error(read_all, hf.VqvFile(f.hmap, f.chunks, index_len=index_len).bytes())


@pytest.mark.parametrize("version", [(1, 0), (2, 0)], ids=["v1", "v2"])
def test_one_byte_inserted_or_removed_is_named_by_its_gop(version):
    """Issue #13 (9): for every byte of every chunk, and just after the last one, the error names the
    GOP whose bytes moved (not "chunks end at byte N")."""
    hmap = hf.header_map(model_digest=b"\x01" * 8, source_width=64, source_height=64, frame_count=72,
                         gop_prediction=True)
    chunks = [hf.chunk(0, 32, (5, 6), b"\x11" * 9), hf.chunk(1, 32, (7,), b"\x22" * 3, predicted=True),
              hf.chunk(2, 8, (), b"\x33" * 20)]
    f = hf.VqvFile(hmap, chunks, version)
    data, start = f.bytes(), len(f.head())
    bounds = np.cumsum([start] + [len(c) for c in chunks])
    for pos in range(start, int(bounds[-1]) + 1):
        gop = min(int(np.searchsorted(bounds, pos, side="right")) - 1, len(chunks) - 1)
        for edit, bad in (("inserted", data[:pos] + b"\x00" + data[pos:]), ("removed", data[:pos] + data[pos + 1:])):
            if edit == "removed" and pos == bounds[-1]:
                continue                                          # that byte is the index's
            e = project_error(read_all, bad)
            assert f"GOP {gop}" in str(e), (edit, pos, str(e))


# --------------------------------------------------------------------------- fuzz with recomputed CRCs

HOSTILE_INTS = [0, 1, 2, 31, 32, 33, 255, 4095, 4096, 65535, 65536, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**63 - 1,
                2**64 - 1, -1, -(2**31) - 1]
HOSTILE_VALUES = HOSTILE_INTS + [True, False, None, 1.5, "", "x" * 300, b"", b"\x00" * 40, [], {}]


def mutate(rnd: random.Random, f: hf.VqvFile, chunks: list[GopChunk]) -> tuple[str, bytes]:
    """One random lie in a valid file, every CRC recomputed: ``(what was changed, the new bytes)``."""
    f = hf.VqvFile(f.hmap, [], f.version)
    cs = [dict(index=c.index, frames=c.frame_count, counts=list(c.symbol_counts), payload=c.payload,
               predicted=c.predicted) for c in chunks]
    kw: list[dict] = [{} for _ in cs]
    index_edit = None
    what = rnd.choice(["header-field", "header-bytes", "chunk-field", "payload", "index", "order"])
    g = rnd.randrange(len(cs))
    c = cs[g]
    if what == "header-field":
        m = msgpack.unpackb(f.hmap, strict_map_key=False, raw=False)
        key = rnd.choice(list(range(17)) + ["note"])
        if rnd.random() < 0.2:
            m.pop(key, None)
        else:
            m[key] = rnd.choice(HOSTILE_VALUES)
        f.hmap = msgpack.packb(m, use_bin_type=True)
    elif what == "header-bytes":
        b = bytearray(f.hmap)
        for _ in range(rnd.randint(1, 3)):
            b[rnd.randrange(len(b))] ^= rnd.randint(1, 255)
        f.hmap = bytes(b)
    elif what == "chunk-field":
        field = rnd.choice(["index", "frames", "predicted", "stream count", "symbol count", "payload length",
                            "trailing"])
        if field == "index":
            c["index"] = rnd.choice([g + 1, g - 1 if g else 2, 2**32])
        elif field == "frames":
            kw[g]["frames_flags"] = rnd.choice(HOSTILE_INTS[:13]) << 1 | int(c["predicted"])
        elif field == "predicted":
            c["predicted"] = not c["predicted"]
        elif field == "stream count":
            c["counts"] = c["counts"][:-1] if rnd.random() < 0.5 else c["counts"] + [rnd.choice(HOSTILE_INTS[:9])]
        elif field == "symbol count":
            s = rnd.randrange(len(c["counts"]))
            c["counts"][s] = max(0, rnd.choice([c["counts"][s] + 1, c["counts"][s] - 1, 0, 2**63 - 1,
                                                rnd.randrange(4096)]))
        elif field == "payload length":
            kw[g]["payload_len"] = max(0, len(c["payload"]) + rnd.choice([-5, -4, -1, 1, 4, 2**20]))
        else:
            kw[g]["trailing"] = rnd.randbytes(rnd.randint(1, 8))
    elif what == "payload":
        p = bytearray(c["payload"])
        how = rnd.choice(["flip", "cut", "extend", "words"])
        if how == "flip":
            for _ in range(rnd.randint(1, 3)):
                p[rnd.randrange(len(p))] ^= 1 << rnd.randrange(8)
        elif how == "cut":
            n = rnd.randrange(len(p))
            p = p[:n] if rnd.random() < 0.5 else p[len(p) - n:]
        elif how == "extend":
            p += rnd.randbytes(rnd.randint(1, 12))
        else:
            a = rnd.randrange(0, len(p), 4)
            p[a:a + 4] = rnd.randbytes(4)
        c["payload"] = bytes(p)
    elif what == "index":
        index_edit = rnd.choice(["entry", "refresh", "extra", "missing", "length"])
    else:
        cs.reverse()
        kw.reverse()
    f.chunks = [hf.chunk(c["index"], c["frames"], c["counts"], c["payload"], c["predicted"], **k) for c, k in zip(cs, kw)]
    if index_edit == "entry":
        f.index = hf.index_entries(f.chunks)
        f.index[g] += rnd.choice([-4, -2, 2, 4, 1 << 30])
    elif index_edit == "refresh":
        f.index = hf.index_entries(f.chunks)
        f.index[g] ^= 1
    elif index_edit == "extra":
        f.index = hf.index_entries(f.chunks) + [rnd.choice([16, 17, 1])]
    elif index_edit == "missing":
        f.index = hf.index_entries(f.chunks)[:-1]
    elif index_edit == "length":
        f.index_len = rnd.choice([0, 1, 3, 2**32 - 1])
    return f"{what}:{index_edit or ''}", f.bytes()


def _canonical(data: bytes, model, got: list) -> bool:
    """Whether the encoder, given the codes ``got`` decoded from ``data``, writes exactly ``data``'s
    payloads: then ``data`` is simply another valid file (a uniform prior over 32 symbols packs
    5 bits per code with no redundancy, so a flipped bit is another code, not damage the decoder can
    see), not a payload no encoder writes decoded into garbage."""
    reader = VqvReader(io.BytesIO(data))
    h = reader.header
    layout = layout_of(got[0].codes)
    prior = candidate_priors(model, h.prior, [g.codes for g in got])[0]
    if h.prior == "empirical-adaptive":
        prior = prior.from_params(h.prior_params)
    ref = None
    for g in got:
        chunk = reader.read_chunk(g.index)
        res = encode_gop(layout, prior, g.codes, copy_mode=h.copy_mode, reference=ref if chunk.predicted else None,
                         end_check=reader.version[0] >= 2)
        if res.payload != chunk.payload:
            return False
        ref = res.reference
    return True


def _same_codes(a: list, b: list) -> bool:
    return len(a) == len(b) and all(
        all(np.array_equal(x.indices, y.indices) and np.array_equal(x.copy_map(), y.copy_map())
            for x, y in zip(ga.codes.levels, gb.codes.levels)) for ga, gb in zip(a, b))


FUZZ_CASES = 90


def fuzz_outcome(data: bytes, model, want: list) -> str:
    """The project error's type name, "same codes", "other codes, canonical payload" or "garbage"."""
    try:
        got = decode_codes(data, model)
    except PROJECT_ERRORS as e:
        check_message(e)
        return type(e).__name__
    if _same_codes(got, want):
        return "same codes"
    return "other codes, canonical payload" if _canonical(data, model, got) else "garbage"


@pytest.mark.parametrize("prior,copy_mode", [(p, c) for c in (False, True) for p in PRIORS] + [("v1-learned", False)],
                         ids=[f"{p}-{c}" for c in ("no-copy", "copy") for p in PRIORS] + ["v1-learned"])
def test_fuzz_with_recomputed_crcs_never_decodes_garbage(model, base_files, prior, copy_mode):
    """Random lies in every part (CRCs recomputed so they reach the decoder), read by formats and
    decoded by the codec: each ends in a project error, decodes to exactly the original codes (a lie
    about fps, a name or an unknown key changes no code) or to codes whose encoding is exactly the
    forged payload (another valid file); never into garbage. Fixed seed: stable outcome counts."""
    data, want = base_files[prior, copy_mode]
    f, chunks = parts(data)
    rnd = random.Random(f"{prior}-{copy_mode}")
    outcomes: dict[str, int] = {}
    for _ in range(FUZZ_CASES):
        what, bad = mutate(rnd, f, chunks)
        outcome = fuzz_outcome(bad, model, want)
        assert outcome != "garbage", f"{what}: decoded into garbage"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    # the lies reach every layer: the container, the entropy decoder and the codec's checks
    assert {"VqvFormatError", "EntropyError"} <= set(outcomes), outcomes
    assert outcomes.get("same codes", 0) < FUZZ_CASES // 4, outcomes
