"""The learned conditional prior: integer-exact tables, context across GOPs, robustness, training."""
from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vqcodec import codec
from vqcodec.entropy import TOTAL, EntropyError, check_freqs, freqs_from_counts
from vqcodec.errors import VqvError
from vqcodec.formats import GopChunk, VqvFormatError, VqvReader, VqvWriter
from vqcodec.learned_prior import (N_CLASSES, N_COOC, N_SLOTS, W_ONE, LearnedPrior, _extended,
                                   clip_sequences, codebook_sizes, mixture_tables, stream_context)
from vqcodec.priors import EmpiricalStaticPrior, StreamSymbols
from vqcodec.weights import load_model, save_weights

from conftest import make_tiny_weights, synthetic_video


def make_tiny_learned_weights(path: Path, seed: int = 0) -> Path:
    """The tiny test model with an empirical-static AND a learned prior (fitted on synthetic runs)."""
    make_tiny_weights(path, seed=seed)
    m = load_model(path)
    clips, keys = [], []
    for j in range(3):
        v = synthetic_video(96, 32, 32, seed=10 + j)
        for i in range(3):
            clips.append(v[32 * i:32 * i + 32])
            keys.append((j, 32 * i))
    prior = LearnedPrior.fit(clip_sequences(m.net, clips, keys), codebook_sizes(m.net))
    save_weights(m.net, path, half=False, priors={**m.priors, "learned": prior.to_bytes()}, card=m.card)
    return path


@pytest.fixture(scope="module")
def learned_weights(tmp_path_factory) -> Path:
    return make_tiny_learned_weights(tmp_path_factory.mktemp("lmodel") / "tiny_learned.pt")


@pytest.fixture(scope="module")
def lmodel(learned_weights):
    return load_model(learned_weights)


def _codes_equal(a, b):
    for x, y in zip(a.levels, b.levels):
        np.testing.assert_array_equal(x.indices, y.indices)


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
        ext = _extended(cur, pv, (t_, h, w))
        lext = _extended(low, pv, (t_, h, w))
        ts = np.arange(t_)
        cls, cands = stream_context(ext, ts, m, lext, (1, 1, 1))
        tabs = check_freqs(mixture_tables(m.static, m.weights, cls, cands))
        for i in rng.choice(cls.size, 12, replace=False):
            t, r = divmod(int(i), h * w)
            y, x = divmod(r, w)
            rc, rcand = _ref_context(ext, t, y, x, m, lext, (1, 1, 1))
            assert rc == cls[i] and rcand == list(cands[i])
            assert _ref_table(m.static, m.weights, rc, rcand) == tabs[i].tolist()


def test_mixture_tables_are_valid_for_extreme_weights():
    rng = np.random.default_rng(1)
    k = 50
    static = freqs_from_counts(rng.integers(0, 1000, k))
    w = np.zeros((N_CLASSES, N_SLOTS + 1), np.int64)
    w[:, 0] = W_ONE
    w[1, 0], w[1, 1] = 64, W_ONE - 64                      # nearly all mass on one spike
    w[2, 0], w[2, 1:] = W_ONE - 8 * N_SLOTS, 8             # tiny spikes
    cls = np.array([0, 1, 2, 1])
    cands = rng.integers(0, k, (4, N_SLOTS))
    cands[3] = 7                                           # all candidates agree
    tabs = check_freqs(mixture_tables(static, w, cls, cands))
    np.testing.assert_array_equal(tabs[0], static)         # no context: exactly the static table
    assert tabs[1, cands[1, 0]] > TOTAL * 0.99 and tabs[3, 7] > TOTAL * 0.99


# ------------------------------------------------------------------------------ codec round trips
def test_learned_round_trip_context_flags_and_random_access(lmodel):
    frames = synthetic_video(100, 48, 40, seed=9)
    pw, ph = codec.padded_size(40, 48, lmodel.cfg.stride)
    gops = np.stack([codec.pad_gop(frames[i:i + 32], 32, ph, pw) for i in range(0, 100, 32)])
    want = lmodel.net.encode(gops).unbatch()
    for ctx in (True, False):
        data = codec.encode_frames(frames, 16, model=lmodel, prior="learned", gop_context=ctx)
        reader = VqvReader(io.BytesIO(data))
        assert reader.header.prior == "learned" and reader.header.gop_context is ctx
        flags = [c.uses_context for c in reader]
        # GOP 0 never has context; later GOPs use it where it pays (on this smooth video: somewhere)
        assert flags[0] is False and (any(flags) if ctx else not any(flags))
        got = list(codec.read_gop_codes(reader, lmodel))
        for (_, g, _), w in zip(got, want):
            _codes_equal(g, w)
        for i in (3, 1, 2, 0):                              # any single GOP, in any order
            (j, c, _), = codec.read_gop_codes(reader, lmodel, [i])
            assert j == i
            _codes_equal(c, want[i])
        assert codec.decode_bytes(data, model=lmodel).shape == frames.shape
    # context pays on this (predictable) video, and auto keeps the learned prior
    sizes = {p: len(codec.encode_frames(frames, 16, model=lmodel, prior=p))
             for p in ("empirical-static", "empirical-adaptive", "learned", "auto")}
    assert sizes["learned"] < sizes["empirical-static"] and sizes["auto"] == min(sizes.values())


def test_gop_context_off_gops_decode_alone(lmodel):
    frames = synthetic_video(70, 32, 32, seed=4)
    data = codec.encode_frames(frames, 16, model=lmodel, prior="learned", gop_context=False)
    full = [c for _, c, _ in codec.read_gop_codes(VqvReader(io.BytesIO(data)), lmodel)]
    # cut the file down to GOP i alone: re-write it as a one-GOP container
    src = VqvReader(io.BytesIO(data))
    for i in range(len(src)):
        chunk = src.read_chunk(i)
        assert not chunk.uses_context
        buf = io.BytesIO()
        wr = VqvWriter(buf)
        wr.write_chunk(GopChunk(index=0, frame_count=chunk.frame_count, symbol_counts=chunk.symbol_counts,
                                uses_context=False, payload=chunk.payload))
        h = src.header
        from dataclasses import replace
        wr.finish(replace(h, frame_count=chunk.frame_count))
        (_, c, _), = codec.read_gop_codes(VqvReader(io.BytesIO(buf.getvalue())), lmodel)
        _codes_equal(c, full[i])


def test_model_without_learned_prior_refuses_learned(tiny_model, lmodel):
    frames = synthetic_video(8, 16, 16)
    with pytest.raises(VqvError, match="no learned prior"):
        codec.encode_frames(frames, 16, model=tiny_model, prior="learned")


def _rewrite(data: bytes, damage) -> bytes:
    """The same container with payloads changed by ``damage(i, payload)`` and valid CRCs."""
    src = VqvReader(io.BytesIO(data))
    buf = io.BytesIO()
    wr = VqvWriter(buf)
    for i in range(len(src)):
        c = src.read_chunk(i)
        wr.write_chunk(GopChunk(index=i, frame_count=c.frame_count, symbol_counts=c.symbol_counts,
                                uses_context=c.uses_context, payload=damage(i, c.payload)))
    wr.finish(src.header)
    return buf.getvalue()


def test_corrupted_context_is_a_clear_one_line_error(lmodel):
    frames = synthetic_video(96, 32, 32, seed=2)
    data = codec.encode_frames(frames, 16, model=lmodel, prior="learned", gop_context=True)
    # 1) flipped bytes in GOP 0's payload: the CRC names GOP 0, also when GOP 2 is asked for alone
    reader = VqvReader(io.BytesIO(data))
    p0 = reader.read_chunk(0).payload
    bad = bytearray(data)
    pos = data.find(p0) + len(p0) // 2
    bad[pos] ^= 0x24
    for idx in (None, [2]):
        with pytest.raises((VqvFormatError, VqvError)) as e:
            list(codec.read_gop_codes(VqvReader(io.BytesIO(bytes(bad))), lmodel, idx))
        assert "GOP 0" in str(e.value) and "\n" not in str(e.value)
    # 2) damage that passes the CRC (a re-written file): the entropy layer refuses, one line
    def flip(i, p):
        if i != 0:
            return p
        b = bytearray(p)
        for j in range(0, len(b), 7):
            b[j] ^= 0x5A
        return bytes(b)
    bad2 = _rewrite(data, flip)
    for idx in (None, [2]):
        with pytest.raises((EntropyError, VqvError)) as e:
            list(codec.read_gop_codes(VqvReader(io.BytesIO(bad2)), lmodel, idx))
        assert "GOP 0" in str(e.value) and "\n" not in str(e.value)
    # 3) a GOP's payload swapped for another's: its context no longer matches
    bad3 = _rewrite(data, lambda i, p: p if i != 1 else VqvReader(io.BytesIO(data)).read_chunk(2).payload)
    with pytest.raises((EntropyError, VqvError)) as e:
        codec.decode_bytes(bad3, model=lmodel)
    assert "\n" not in str(e.value)


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

    from vqcodec.priors import _unzstd, _zstd
    obj = msgpack.unpackb(_unzstd(blob, "x"), raw=False)

    def broken(fn):
        o = msgpack.unpackb(_unzstd(blob, "x"), raw=False)
        fn(o)
        return _zstd(msgpack.packb(o, use_bin_type=True))
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


# ------------------------------------------------------------------------------ it exploits time
def _synthetic_runs(rng, n_runs, k=256, t=8, h=6, w=6, p_repeat=0.8):
    zipf = 1.0 / np.arange(1, k + 1) ** 0.7
    zipf /= zipf.sum()
    runs = []
    for _ in range(n_runs):
        seq = []
        last = rng.choice(k, (h, w), p=zipf)
        for _g in range(2):
            g = np.empty((t, h, w), np.int64)
            for s in range(t):
                fresh = rng.choice(k, (h, w), p=zipf)
                last = np.where(rng.random((h, w)) < p_repeat, last, fresh)
                g[s] = last
            seq.append({"bottom.0": g})
        runs.append(seq)
    return runs


def test_learned_prior_exploits_temporal_repetition():
    rng = np.random.default_rng(0)
    train, test = _synthetic_runs(rng, 30), _synthetic_runs(rng, 10)
    prior = LearnedPrior.fit(train, {"bottom.0": 256})
    counts = sum(np.bincount(g["bottom.0"].reshape(-1), minlength=256) for s in train for g in s)
    static = EmpiricalStaticPrior.from_counts({"bottom.0": counts})
    bits_l = bits_s = 0.0
    for seq in test:
        prev = None
        for g in seq:
            st = [StreamSymbols("bottom.0", 256, g["bottom.0"].reshape(-1))]
            bits_l += prior.stream_bits(st, {"bottom.0": g["bottom.0"].shape}, prev)["bottom.0"]
            bits_s += static.estimate_bits(st)
            prev = g
            data = prior.encode_gop(st, {"bottom.0": g["bottom.0"].shape}, prev)
            assert data
    assert bits_l < 0.5 * bits_s, (bits_l, bits_s)
    # and on data WITHOUT repetition it costs at most a little more than the static table
    rand = _synthetic_runs(rng, 10, p_repeat=0.0)
    prior_r = LearnedPrior.fit(_synthetic_runs(rng, 30, p_repeat=0.0), {"bottom.0": 256})
    bl = bs = 0.0
    for seq in rand:
        prev = None
        for g in seq:
            st = [StreamSymbols("bottom.0", 256, g["bottom.0"].reshape(-1))]
            bl += prior_r.stream_bits(st, {"bottom.0": g["bottom.0"].shape}, prev)["bottom.0"]
            bs += static.estimate_bits(st)
            prev = g
    assert bl < 1.03 * bs, (bl, bs)


# ------------------------------------------------------------------------------ threads, CLI
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
    assert VqvReader(io.BytesIO(outs[1].read_bytes())).header.gop_context
    codes = {}
    for n, other in ((1, 2), (2, 1)):                      # encoded with n threads, decoded with the other
        env = {**os.environ, "OMP_NUM_THREADS": str(other)}
        z = tmp_path / f"c{n}.npz"
        subprocess.run([sys.executable, "-c", dec, str(other), str(outs[n]), str(learned_weights), str(z)],
                       check=True, env=env, timeout=300)
        codes[n] = dict(np.load(z))
    for k in codes[1]:
        np.testing.assert_array_equal(codes[1][k], codes[2][k])


def test_train_prior_command_writes_the_prior_into_the_weights(tmp_path):
    from click.testing import CliRunner

    from vqcodec.cli.main import main
    weights = make_tiny_weights(tmp_path / "m.pt")
    before = load_model(weights)
    data = tmp_path / "videos"
    data.mkdir()
    for s in range(4):
        np.save(data / f"v{s}.npy", synthetic_video(70, 40, 40, seed=20 + s))
    r = CliRunner().invoke(main, ["train-prior", "--model", str(weights), "--data", f"folder:{data}",
                                  "--cache-dir", str(tmp_path / "cache"), "--max-clips", "6"],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    after = load_model(weights)
    assert "learned" in after.priors and after.priors["empirical-static"] == before.priors["empirical-static"]
    for k, v in before.net.state_dict().items():           # same network, bit for bit
        if "ema" not in k:                                  # (training statistics: not shipped)
            assert np.array_equal(v.numpy(), after.net.state_dict()[k].numpy()), k
    src = tmp_path / "in.npy"
    np.save(src, synthetic_video(40, 32, 32, seed=3))
    r = CliRunner().invoke(main, ["encode", str(src), str(tmp_path / "o.vqv"), "--model", str(weights),
                                  "--prior", "learned", "--gop-context", "off", "-q"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert VqvReader(io.BytesIO((tmp_path / "o.vqv").read_bytes())).header.gop_context is False
    r = CliRunner().invoke(main, ["decode", str(tmp_path / "o.vqv"), str(tmp_path / "o.npy"), "--model", str(weights),
                                  "-q"], catch_exceptions=False)
    assert r.exit_code == 0 and np.load(tmp_path / "o.npy").shape == (40, 32, 32, 3)
    # to a separate file, from a weights file (no checkpoint here)
    r = CliRunner().invoke(main, ["train-prior", "--model", str(weights), "--data", f"folder:{data}",
                                  "--cache-dir", str(tmp_path / "cache"), "--max-clips", "2",
                                  "--out", str(tmp_path / "p.bin")], catch_exceptions=False)
    assert r.exit_code == 0 and LearnedPrior.from_bytes((tmp_path / "p.bin").read_bytes()).models


# ------------------------------------------------------------------------------ golden file
GOLDEN = Path(__file__).parent / "golden"


def test_golden_learned_file_decodes_to_the_committed_codes_and_frames():
    model = load_model(GOLDEN / "tiny_learned.pt")
    data = (GOLDEN / "golden_learned.vqv").read_bytes()
    want = np.load(GOLDEN / "golden_learned_codes.npz")
    reader = VqvReader(io.BytesIO(data))
    h = reader.header
    assert h.prior == "learned" and h.gop_context and h.frame_count == 72
    assert [c.uses_context for c in reader] == [False, True, True]
    got = list(codec.read_gop_codes(reader, model))
    assert len(got) == 3
    for i, codes, _ in got:
        for lv in codes.levels:
            np.testing.assert_array_equal(lv.indices, want[f"gop{i}_{lv.name}"])   # bit-exact
    (_, last, _), = codec.read_gop_codes(reader, model, [2])                      # random access
    for lv in last.levels:
        np.testing.assert_array_equal(lv.indices, want[f"gop2_{lv.name}"])
    frames = codec.decode_bytes(data, model=model)
    ref = np.load(GOLDEN / "golden_learned_frames.npy")
    assert frames.shape == ref.shape == (72, 48, 40, 3)
    diff = np.abs(frames.astype(int) - ref.astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 0.01
    # integer-exact entropy coding: the same codes give the same bytes
    out = io.BytesIO()
    codec.write_container(out, model, h.quality, [(c, n) for _, c, n in got], prior_kind="learned",
                          source_size=(h.source_width, h.source_height),
                          coded_size=(h.coded_width, h.coded_height), fps=h.fps_num / h.fps_den, gop_context=True)
    assert out.getvalue() == data
