"""The learned conditional prior of the tiny model: integer-exact tables, the one prior interface,
prediction across GOPs and refresh points, damage, serialisation, threads, the golden file. Fitting
from scratch, what it learns and `vqv train-prior`: test_learned_prior_fit.py."""
from __future__ import annotations

import io
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import make_tiny_weights, synthetic_video
from learned_helpers import _codes_equal, _read

from vqcodec.codes import Codes
from vqcodec.coding.decoder import decode_bytes
from vqcodec.coding.encoder import GopEncoder, code_file, encode_frames
from vqcodec.coding.prior_choice import learned_prior, static_prior
from vqcodec.coding.gop_coding import decode_gop, encode_gop, layout_of
from vqcodec.entropy.blob import zstd_compress, zstd_decompress
from vqcodec.entropy.learned_prior import (
    N_COOC,
    N_SLOTS,
    W_ONE,
    LearnedPrior,
    mixture_tables,
    stream_context,
)
from vqcodec.entropy.priors import EmpiricalStaticPrior, SliceContext, extended_slices
from vqcodec.entropy.rans import TOTAL, EntropyError, check_freqs, freqs_from_counts, table_rows
from vqcodec.errors import VqvError
from vqcodec.formats import GopChunk, VqvFormatError, VqvReader, VqvWriter
from vqcodec.release import prior_fitting
from vqcodec.settings import EncodeSettings
from vqcodec.weights import load_model, save_weights


def make_tiny_learned_weights(path: Path, seed: int = 0) -> Path:
    """The tiny test model with an empirical-static AND a learned prior, the learned one fitted on
    the real encoder's codes (copy decisions, prediction across GOPs) of synthetic runs of 3
    consecutive clips, at every quality."""
    make_tiny_weights(path, seed=seed)
    m = load_model(path)
    clips, keys = [], []
    for j in range(3):
        v = synthetic_video(96, 32, 32, seed=10 + j)
        for i in range(3):
            clips.append(v[32 * i:32 * i + 32])
            keys.append((j, 32 * i))
    runs = prior_fitting.runs_of(keys, [len(c) for c in clips])
    static = EmpiricalStaticPrior.from_bytes(m.priors["empirical-static"])
    seqs = [s for q in m.qualities for s in prior_fitting.encode_runs(m, clips, runs, q, prior=static)]
    prior = LearnedPrior.fit(seqs, prior_fitting.codebook_sizes(m))
    save_weights(m.net, path, precision="float", priors={**m.priors, "learned": prior.to_bytes()}, card=m.card)
    return path


@pytest.fixture(scope="module")
def learned_weights(tmp_path_factory) -> Path:
    return make_tiny_learned_weights(tmp_path_factory.mktemp("lmodel") / "tiny_learned.pt")


@pytest.fixture(scope="module")
def lmodel(learned_weights):
    return load_model(learned_weights)


def _encoder_gops(model, frames, **kw):
    enc = GopEncoder(model, EncodeSettings.build(model, **kw), frames.shape[2], frames.shape[1])
    for f in frames:
        enc.add_frame(f)
    return enc.finish()


def _encoder_codes(model, frames, **kw) -> list[Codes]:
    enc = GopEncoder(model, EncodeSettings.build(model, **kw), frames.shape[2], frames.shape[1])
    for f in frames:
        enc.add_frame(f)
    return [g.codes for g in enc.finish()]


# ------------------------------------------------------------------------------ integer exactness
def _ref_context(ext, t, y, x, m, low_ext, ratio):
    """A slow, literal per-symbol rendering of the context definition (pure Python ints)."""
    _, h, w = ext.shape
    P = int(ext[t + 1, y, x])
    PP = int(ext[t, y, x])
    nb = [(max(y - 1, 0), x), (min(y + 1, h - 1), x), (y, max(x - 1, 0)), (y, min(x + 1, w - 1))]
    cooc = None
    low_feat = 2
    if low_ext is not None:
        rt, ry, rx = ratio
        lc = int(low_ext[2 + t // rt, y // ry, x // rx])
        lp = int(low_ext[2 + (t - 1) // rt, y // ry, x // rx])
        low_feat = 3 if t // rt == (t - 1) // rt else (2 if lp < 0 else int(lc == lp))
        if m.cooc.shape[0]:
            cooc = [int(v) for v in m.cooc[lc]]
    if P < 0:
        fb = cooc[0] if cooc is not None else 0
        return 0, [fb] * (N_SLOTS - N_COOC) + (cooc if cooc is not None else [fb] * N_COOC)
    hist = 2 if PP < 0 else int(P == PP)
    nrep = sum(1 for (a, b) in nb if int(ext[t, a, b]) >= 0 and ext[t + 1, a, b] == ext[t, a, b])
    nbf = 2 if nrep >= 4 else (1 if nrep >= 2 else 0)
    cls = 1 + (hist * 4 + low_feat) * 3 + nbf
    cands = [P] + [int(ext[t + 1, a, b]) for a, b in nb] + [int(v) for v in m.succ[P]]
    cands += cooc if cooc is not None else [P] * N_COOC
    return cls, cands


def _ref_table(static, weights, cls, cands):
    k = len(static)
    a = int(weights[cls][0])
    row = [((int(static[v]) - 1) * a >> 16) + 1 for v in range(k)]
    rest = TOTAL - sum(row)
    given = 0
    for j, c in enumerate(cands):
        r = rest * int(weights[cls][1 + j]) // (W_ONE - a) if a < W_ONE else 0
        row[c] += r
        given += r
    row[cands[0]] += rest - given
    return row


def test_integer_tables_match_a_slow_reference(lmodel):
    prior = LearnedPrior.from_bytes(lmodel.priors["learned"])
    m = prior.models["bottom.1"]
    rng = np.random.default_rng(0)
    t_, h, w = 16, 8, 8
    cur = rng.integers(0, m.k, (t_, h, w))
    for t in range(1, t_):                                 # plenty of repeats, so every class occurs
        cur[t] = np.where(rng.random((h, w)) < 0.6, cur[t - 1], cur[t])
    prev = rng.integers(0, m.k, (t_, h, w))
    low = cur.copy()
    low[rng.random((t_, h, w)) < 0.3] = 0
    for pv in (prev, None):
        ext = extended_slices(cur, pv, (t_, h, w))
        lext = extended_slices(low, pv, (t_, h, w))
        ts = np.arange(t_)
        cls, cands = stream_context(ext, ts, m, lext, (1, 1, 1))
        tabs = check_freqs(mixture_tables(m.static, m.weights, cls, cands))
        for i in rng.choice(cls.size, 12, replace=False):
            t, r = divmod(int(i), h * w)
            y, x = divmod(r, w)
            rc, rcand = _ref_context(ext, t, y, x, m, lext, (1, 1, 1))
            assert rc == cls[i] and rcand == list(cands[i])
            assert _ref_table(m.static, m.weights, rc, rcand) == tabs[i].tolist()


def whole(tables):
    """All rows of per-symbol tables (the learned prior builds them a block at a time)."""
    return table_rows(tables, slice(0, tables.shape[0])) if tables.ndim == 2 else tables


def test_slice_tables_are_the_context_tables_of_the_coded_positions(lmodel):
    """The one interface: per coded position (C order), the mixture table of its context; copied
    positions get none; unknown streams are coded uniformly; size mismatches are refused."""
    prior = LearnedPrior.from_bytes(lmodel.priors["learned"])
    m = prior.models["bottom.0"]
    rng = np.random.default_rng(2)
    grid, top_grid = (4, 4, 4), (2, 2, 2)
    cur = rng.integers(0, m.k, grid)
    cur[1:] = np.where(rng.random((3, 4, 4)) < 0.5, cur[:-1], cur[1:])
    top = rng.integers(0, prior.models["top.0"].k, top_grid)
    ext = extended_slices(cur, rng.integers(0, m.k, grid), grid)
    low = extended_slices(top, None, top_grid)
    for t in range(4):
        coded = rng.random((4, 4)) < 0.6
        e = ext.copy()
        e[3 + t:] = -1                                      # what the decoder knows at slice t
        ctx = SliceContext("bottom.0", m.k, t, e, low, (2, 2, 2), coded)
        lazy = prior.slice_tables(ctx)
        assert lazy.shape == (ctx.n_coded, m.k)
        tabs = whole(lazy)
        cls, cands = stream_context(e, np.array([t]), m, low, (2, 2, 2))
        want = mixture_tables(m.static, m.weights, cls, cands)[coded.reshape(-1)]
        np.testing.assert_array_equal(tabs, want)
    # the tables depend on the context: previous slice known vs. not
    coded = np.ones((4, 4), bool)
    with_p = whole(prior.slice_tables(SliceContext("bottom.0", m.k, 1, ext, low, (2, 2, 2), coded)))
    no_ref = extended_slices(None, None, grid)
    without = whole(prior.slice_tables(SliceContext("bottom.0", m.k, 0, no_ref, low, (2, 2, 2), coded)))
    assert not np.array_equal(with_p, without)
    unknown = prior.slice_tables(SliceContext("side.0", 10, 0, extended_slices(None, None, (1, 2, 2)), None, None,
                                              np.ones((2, 2), bool)))
    np.testing.assert_array_equal(unknown, freqs_from_counts(np.zeros(10, np.int64)))
    with pytest.raises(EntropyError):
        prior.slice_tables(SliceContext("bottom.0", m.k + 1, 0, no_ref, None, None, coded))
    with pytest.raises(EntropyError):
        prior.check_streams([("top.0", prior.models["top.0"].k), ("bottom.1", m.k * 2)])
    prior.check_streams([("top.0", prior.models["top.0"].k), ("other.0", 3)])
    big_low = low.copy()
    big_low[2:] = prior.models["top.0"].k + 5                  # beyond the co-occurrence table
    with pytest.raises(EntropyError):
        whole(prior.slice_tables(SliceContext("bottom.0", m.k, 0, no_ref, big_low, (2, 2, 2), coded)))
    assert prior.params() == b"" and prior.kind == "learned"


# ------------------------------------------------------------------------------ codec round trips
def test_learned_round_trip_prediction_and_random_access(lmodel):
    frames = synthetic_video(100, 48, 40, seed=9)
    sizes = {}
    for refresh in (1, 0):
        data = encode_frames(frames, 16, model=lmodel, prior="learned", refresh=refresh)
        sizes[refresh] = len(data)
        want = _encoder_codes(lmodel, frames, prior="learned", refresh=refresh)
        assert len(want) == 4
        reader = VqvReader(io.BytesIO(data))
        h = reader.header
        assert h.prior == "learned" and h.copy_mode and h.refresh_interval == refresh
        predicted = [c.predicted for c in reader]
        # refresh 1: every GOP is a refresh point; refresh 0: only GOP 0, the others predict
        assert predicted == ([False] * 4 if refresh == 1 else [False, True, True, True])
        assert h.gop_prediction is (refresh == 0)
        assert reader.refresh_points() == ([0, 1, 2, 3] if refresh == 1 else [0])
        got = _read(lmodel, data)
        assert [g.index for g in got] == [0, 1, 2, 3] and [g.frames for g in got] == [32, 32, 32, 4]
        for g, w in zip(got, want):
            _codes_equal(g.codes, w)
            assert g.bits and all(v >= 0 for v in g.bits.values())
        for idx in ([3], [1], [2, 0], [2, 3], [3, 3], [0, 3, 1]):    # any GOPs, in any order
            one = _read(lmodel, data, idx)
            assert [g.index for g in one] == idx
            for g in one:
                _codes_equal(g.codes, want[g.index])
                assert g.bits == pytest.approx(got[g.index].bits)
        if refresh == 0:
            # a predicted GOP really depends on the one before it: without it, it does not decode
            layout = layout_of(want[2])
            chunk = reader.read_chunk(2)
            names = [n for lv in layout for n in lv.streams()]
            with pytest.raises(EntropyError):
                decode_gop(layout, LearnedPrior.from_bytes(lmodel.priors["learned"]), chunk.payload,
                           dict(zip(names, chunk.symbol_counts)), copy_mode=True, reference=None)
        assert decode_bytes(data, model=lmodel).shape == frames.shape
    # prediction across GOPs pays with the learned prior on this (predictable) video
    assert sizes[0] < sizes[1], sizes
    # the learned prior beats the static one on the same codes, and auto keeps it. (Whole files
    # under each prior differ in their copy decisions too, priced by that prior: on an untrained
    # tiny model that comparison depends on the model k-means happened to make on this machine.)
    gops = _encoder_gops(lmodel, frames, prior="learned", refresh=0)
    sizes = {kind: sum(len(c.payload) for c in code_file(prior, gops, True))
             for kind, prior in (("empirical-static", static_prior(lmodel)), ("learned", learned_prior(lmodel)))}
    assert sizes["learned"] < 0.9 * sizes["empirical-static"], sizes
    auto = encode_frames(frames, 16, model=lmodel, prior="auto", refresh=0)
    assert VqvReader(io.BytesIO(auto)).header.prior == "learned"
    assert len(auto) <= len(encode_frames(frames, 16, model=lmodel, prior="learned", refresh=0))


def test_refresh_gops_decode_alone(lmodel):
    """With refresh 1, each GOP cut out into a one-GOP file decodes to the same codes."""
    frames = synthetic_video(70, 32, 32, seed=4)
    data = encode_frames(frames, 16, model=lmodel, prior="learned", refresh=1)
    full = [g.codes for g in _read(lmodel, data)]
    src = VqvReader(io.BytesIO(data))
    assert len(src) == 3 and not src.header.gop_prediction
    for i in range(len(src)):
        chunk = src.read_chunk(i)
        assert not chunk.predicted and src.is_refresh(i)
        buf = io.BytesIO()
        wr = VqvWriter(buf, version=src.version)
        wr.write_chunk(GopChunk(index=0, frame_count=chunk.frame_count, symbol_counts=chunk.symbol_counts,
                                predicted=False, payload=chunk.payload))
        wr.finish(replace(src.header, frame_count=chunk.frame_count))
        (g,) = _read(lmodel, buf.getvalue())
        _codes_equal(g.codes, full[i])


def test_model_without_learned_prior_refuses_learned(tiny_model, lmodel):
    frames = synthetic_video(8, 16, 16)
    with pytest.raises(VqvError, match="no learned prior"):
        encode_frames(frames, 16, model=tiny_model, prior="learned")
    data = encode_frames(frames, 16, model=lmodel, prior="learned")
    with pytest.raises(VqvError):                               # another model: refused by digest
        _read(tiny_model, data)


def _rewrite(data: bytes, damage) -> bytes:
    """The same container with payloads changed by ``damage(i, payload)`` and valid CRCs."""
    src = VqvReader(io.BytesIO(data))
    buf = io.BytesIO()
    wr = VqvWriter(buf, version=src.version)
    for i in range(len(src)):
        c = src.read_chunk(i)
        wr.write_chunk(GopChunk(index=i, frame_count=c.frame_count, symbol_counts=c.symbol_counts,
                                predicted=c.predicted, payload=damage(i, c.payload)))
    wr.finish(src.header)
    return buf.getvalue()


def _flip_every_7th(gop):
    def damage(i, p):
        if i != gop:
            return p
        b = bytearray(p)
        for j in range(0, len(b), 7):
            b[j] ^= 0x5A
        return bytes(b)
    return damage


def _one_line_error(fn, *types):
    with pytest.raises(types or (VqvFormatError, VqvError, EntropyError)) as e:
        fn()
    assert "\n" not in str(e.value)
    return str(e.value)


def test_a_damaged_gop_is_named_and_never_silently_propagates(lmodel):
    frames = synthetic_video(128, 32, 32, seed=2)
    data = encode_frames(frames, 16, model=lmodel, prior="learned", refresh=0)
    reader = VqvReader(io.BytesIO(data))
    assert [c.predicted for c in reader] == [False, True, True, True]
    full = [g.codes for g in _read(lmodel, data)]
    # 1) flipped bytes in GOP 0's payload: the CRC names GOP 0, also when GOP 2 is asked for alone
    p0 = reader.read_chunk(0).payload
    bad = bytearray(data)
    bad[data.find(p0) + len(p0) // 2] ^= 0x24
    for idx in (None, [2]):
        assert "GOP 0" in _one_line_error(lambda: _read(lmodel, bytes(bad), idx), VqvFormatError)
    # 2) damage that passes the CRC (a re-written file), in GOP 1: GOP 0 still decodes; GOP 1 and
    # every GOP predicted from it raise, naming GOP 1
    bad2 = _rewrite(data, _flip_every_7th(1))
    (g0,) = _read(lmodel, bad2, [0])
    _codes_equal(g0.codes, full[0])
    for idx in (None, [1], [2], [3], [0, 3]):
        assert "GOP 1" in _one_line_error(lambda: _read(lmodel, bad2, idx), EntropyError)
    assert "GOP 1" in _one_line_error(lambda: decode_bytes(bad2, model=lmodel), EntropyError)
    # 3) a GOP's payload swapped for another's: it no longer fits its reference, or its counts
    for a, b in ((1, 2), (2, 1), (3, 1)):
        swapped = _rewrite(data, lambda i, p: p if i != a else reader.read_chunk(b).payload)
        assert f"GOP {a}" in _one_line_error(lambda: decode_bytes(swapped, model=lmodel), EntropyError)
    # 4) single bit flips in GOP 1 (CRC made valid): an error, never different codes for GOPs 1..3
    rng = np.random.default_rng(0)
    p1 = reader.read_chunk(1).payload
    for _ in range(20):
        pos, bit = int(rng.integers(len(p1))), int(rng.integers(8))

        def flip(i, p):
            if i != 1:
                return p
            b = bytearray(p)
            b[pos] ^= 1 << bit
            return bytes(b)
        flipped = _rewrite(data, flip)
        try:
            got = [g.codes for g in _read(lmodel, flipped)]
        except EntropyError as e:
            assert "GOP 1" in str(e)
        else:                                                 # undetected: then nothing changed
            for x, y in zip(got, full):
                _codes_equal(x, y)


# ------------------------------------------------------------------------------ serialisation
def test_serialisation_round_trip_and_validation(lmodel):
    blob = lmodel.priors["learned"]
    prior = LearnedPrior.from_bytes(blob)
    assert prior.to_bytes() == blob
    assert set(prior.models) == {"top.0", "bottom.0", "bottom.1"}
    for bad in (b"", b"garbage", blob[:-3], blob + b"x", b"\x28\xb5\x2f\xfd" + b"\x00" * 20):
        with pytest.raises(EntropyError):
            LearnedPrior.from_bytes(bad)
    import msgpack

    obj = msgpack.unpackb(zstd_decompress(blob, "x"), raw=False)

    def broken(fn):
        o = msgpack.unpackb(zstd_decompress(blob, "x"), raw=False)
        fn(o)
        return zstd_compress(msgpack.packb(o, use_bin_type=True))
    e = obj["streams"]["bottom.0"]
    w = np.frombuffer(e["weights"], "<u4").copy()
    w[0] += 1                                              # a weight row no longer sums to 2**16
    succ = np.frombuffer(e["succ"], "<u2").copy()
    succ[0] = 60000                                        # a candidate outside the alphabet
    cases = [
        lambda o: o.update(magic="nope"),
        lambda o: o.update(slots=3),
        lambda o: o.update(precision=16),
        lambda o: o["streams"]["bottom.0"].update(weights=w.tobytes()),
        lambda o: o["streams"]["bottom.0"].update(succ=succ.tobytes()),
        lambda o: o["streams"]["bottom.0"].update(k=1 << 30),
        lambda o: o["streams"]["bottom.0"].update(static=b"\x00" * 4 * 64),
        lambda o: o["streams"]["bottom.0"].update(extra=1),
        lambda o: o["streams"].update({"": o["streams"]["bottom.0"]}),
        lambda o: o.update(streams=[1, 2]),
    ]
    for fn in cases:
        with pytest.raises(EntropyError):
            LearnedPrior.from_bytes(broken(fn))


# ------------------------------------------------------------------------------ threads
def test_one_and_two_threads_give_the_same_bytes_and_codes(learned_weights, tmp_path):
    src = tmp_path / "v.npy"
    np.save(src, synthetic_video(70, 32, 32, seed=6))
    enc = ("import sys, torch; torch.set_num_threads(int(sys.argv[1]));"
           "from vqcodec import pipeline;"
           "pipeline.encode_file(sys.argv[2], sys.argv[3], model_path=sys.argv[4], prior='learned', progress=False)")
    dec = ("import sys, torch, numpy as np; torch.set_num_threads(int(sys.argv[1]));"
           "from vqcodec import pipeline;"
           "cf = pipeline.read_codes(sys.argv[2], sys.argv[3]);"
           "np.savez(sys.argv[4], **cf.arrays())")
    outs = {}
    for n in (1, 2):
        env = {**os.environ, "OMP_NUM_THREADS": str(n)}
        out = tmp_path / f"t{n}.vqv"
        subprocess.run([sys.executable, "-c", enc, str(n), str(src), str(out), str(learned_weights)],
                       check=True, env=env, timeout=300)
        outs[n] = out
    assert outs[1].read_bytes() == outs[2].read_bytes()
    reader = VqvReader(io.BytesIO(outs[1].read_bytes()))
    assert reader.header.gop_prediction and reader.header.copy_mode and reader.header.prior == "learned"
    assert [c.predicted for c in reader] == [False, True, True]
    codes = {}
    for n, other in ((1, 2), (2, 1)):                      # encoded with n threads, decoded with the other
        env = {**os.environ, "OMP_NUM_THREADS": str(other)}
        z = tmp_path / f"c{n}.npz"
        subprocess.run([sys.executable, "-c", dec, str(other), str(outs[n]), str(learned_weights), str(z)],
                       check=True, env=env, timeout=300)
        codes[n] = dict(np.load(z))
    assert {"top", "bottom", "top_copied", "bottom_copied"} <= set(codes[1])
    for k in codes[1]:
        np.testing.assert_array_equal(codes[1][k], codes[2][k])


# ------------------------------------------------------------------------------ golden file
GOLDEN = Path(__file__).parent / "golden"


def test_golden_v1_learned_file_decodes_to_the_committed_codes_and_frames():
    """A version-1.0 file of release 0.1 (learned prior, GOP context on) decodes with today's decoder,
    and today's GOP coder (copy mode off, the previous GOP as reference where a chunk is predicted)
    re-codes its codes to exactly its payloads."""
    model = load_model(GOLDEN / "tiny_learned.pt")
    data = (GOLDEN / "golden_learned.vqv").read_bytes()
    want = np.load(GOLDEN / "golden_learned_codes.npz")
    reader = VqvReader(io.BytesIO(data))
    h = reader.header
    assert reader.version == (1, 0)
    assert h.prior == "learned" and h.gop_prediction and not h.copy_mode and h.frame_count == 72
    assert [c.predicted for c in reader] == [False, True, True] and reader.refresh_points() == [0]
    got = _read(model, data)
    assert len(got) == 3
    for g in got:
        for lv in g.codes.levels:
            np.testing.assert_array_equal(lv.indices, want[f"gop{g.index}_{lv.name}"])   # bit-exact
            assert not lv.copy_map().any()
    (last,) = _read(model, data, [2])                                               # random access
    for lv in last.codes.levels:
        np.testing.assert_array_equal(lv.indices, want[f"gop2_{lv.name}"])
    frames = decode_bytes(data, model=model)
    ref = np.load(GOLDEN / "golden_learned_frames.npy")
    assert frames.shape == ref.shape == (72, 48, 40, 3)
    diff = np.abs(frames.astype(int) - ref.astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 0.01
    # integer-exact entropy coding, unchanged order: the same codes give the same payloads
    prior = LearnedPrior.from_bytes(model.priors["learned"])
    ref_gop = None
    for g in got:
        chunk = reader.read_chunk(g.index)
        res = encode_gop(layout_of(g.codes), prior, g.codes, copy_mode=False,
                         reference=ref_gop.reference if chunk.predicted else None, end_check=False)
        assert res.payload == chunk.payload
        assert tuple(res.counts[n] for lv in layout_of(g.codes) for n in lv.streams()) == chunk.symbol_counts
        ref_gop = res
    # and without the reference, a predicted GOP codes differently (the context is really used)
    chunk = reader.read_chunk(1)
    alone = encode_gop(layout_of(got[1].codes), prior, got[1].codes, copy_mode=False, reference=None, end_check=False)
    assert alone.payload != chunk.payload
