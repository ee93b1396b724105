"""The learned conditional prior fitted from scratch: the runs it fits on, its mixture tables at extreme
weights, what it learns (temporal repetition, coded positions only), and `vqv train-prior`, which
refits the priors of a weights file.
"""
from __future__ import annotations

import io
import json

import numpy as np
from conftest import make_tiny_weights, synthetic_video
from learned_helpers import _codes_equal, _read

from vqcodec.codes import CodeLevel, Codes
from vqcodec.coding.encoder import encode_frames
from vqcodec.coding.gop_coding import decode_gop, encode_gop, layout_of
from vqcodec.entropy.learned_prior import (
    N_CLASSES,
    N_SLOTS,
    W_ONE,
    LearnedPrior,
    mixture_tables,
)
from vqcodec.entropy.mixture import mixture_intervals
from vqcodec.entropy.priors import EmpiricalStaticPrior
from vqcodec.entropy.rans import TOTAL, check_freqs, freqs_from_counts
from vqcodec.formats import VqvReader
from vqcodec.release import prior_fitting
from vqcodec.weights import load_model


def test_runs_of_groups_consecutive_clips():
    keys = [(0, 0), (0, 32), (0, 64), (1, 0), (1, 64), (1, 96), (0, 96)]
    assert prior_fitting.runs_of(keys, [32] * 7) == [[0, 1, 2], [3], [4, 5], [6]]
    assert prior_fitting.runs_of([(0, 0), (0, 16)], [16, 16]) == [[0, 1]]
    assert prior_fitting.runs_of([(0, 0), (0, 16)], [32, 16]) == [[0], [1]]      # overlapping: not a run
    assert prior_fitting.runs_of([], []) == []


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


def test_mixture_intervals_are_each_rows_start_and_frequency():
    """What the encoder reads of a row without building it (mixture_intervals) is that row's
    integers: the entries before the symbol summed, and its own entry (spikes on candidates that
    repeat, on the symbol, before and after it, classes without spikes)."""
    rng = np.random.default_rng(3)
    for k in (4, 50, 1024):
        static = freqs_from_counts(rng.integers(0, 1000, k))
        w = rng.integers(0, 2000, (N_CLASSES, N_SLOTS + 1))
        w[:, 0] += 64
        w = w * W_ONE // w.sum(axis=1, keepdims=True)
        w[:, 0] += W_ONE - w.sum(axis=1)
        w[0] = 0
        w[0, 0] = W_ONE                                    # class 0: the static table alone
        n = 300
        cls = rng.integers(0, N_CLASSES, n)
        cands = rng.integers(0, k, (n, N_SLOTS))
        cands[::3, :8] = cands[::3, :1]
        sym = np.where(rng.random(n) < 0.5, cands[np.arange(n), rng.integers(0, N_SLOTS, n)], rng.integers(0, k, n))
        rows = mixture_tables(static, w, cls, cands)
        start, freq = mixture_intervals(static, w, cls, cands, sym)
        np.testing.assert_array_equal(freq, rows[np.arange(n), sym])
        np.testing.assert_array_equal(start, (np.cumsum(rows, axis=1) - rows)[np.arange(n), sym])


# ------------------------------------------------------------------------------ it exploits time
def _synthetic_runs(rng, n_runs, k=256, t=8, h=6, w=6, p_repeat=0.8, copies=False) -> list[list[Codes]]:
    """Runs of 2 consecutive GOPs of one ``bottom`` stream whose codes repeat the slice before
    (across the GOP boundary too) with probability ``p_repeat``; with ``copies``, every repeat is
    marked as a copy, as an encoder in copy mode would (then no coded symbol repeats its P)."""
    zipf = 1.0 / np.arange(1, k + 1) ** 0.7
    zipf /= zipf.sum()
    runs = []
    for _ in range(n_runs):
        seq = []
        last = rng.choice(k, (h, w), p=zipf)
        for g in range(2):
            idx = np.empty((1, t, h, w), np.int32)
            copied = np.zeros((t, h, w), bool)
            for s in range(t):
                fresh = rng.choice(k, (h, w), p=zipf)
                new = np.where(rng.random((h, w)) < p_repeat, last, fresh)
                if g or s:                                  # slice 0 of the first GOP has no predecessor
                    copied[s] = new == last
                last = idx[0, s] = new
            seq.append(Codes((CodeLevel("bottom", k, idx, copied if copies else None),)))
        runs.append(seq)
    return runs


def _run_bits(prior, seq, copy_mode=False, check_decode=False) -> float:
    """Ideal bits of the codes (not of copy decisions) of one run coded as consecutive GOPs."""
    total, ref, dref = 0.0, None, None
    for codes in seq:
        layout = layout_of(codes)
        res = encode_gop(layout, prior, codes, copy_mode=copy_mode, reference=ref)
        total += res.bits.get("bottom.0", 0.0)
        if check_decode:
            dec = decode_gop(layout, prior, res.payload, res.counts, copy_mode=copy_mode, reference=dref)
            _codes_equal(dec.codes, codes)
            dref = dec.reference
        ref = res.reference
    return total


def _static_for(runs, k=256) -> EmpiricalStaticPrior:
    counts = sum(np.bincount(c.level("bottom").indices[0][~c.level("bottom").copy_map()], minlength=k)
                 for seq in runs for c in seq)
    return EmpiricalStaticPrior.from_counts({"bottom.0": counts})


def test_learned_prior_exploits_temporal_repetition():
    rng = np.random.default_rng(0)
    train, test = _synthetic_runs(rng, 30), _synthetic_runs(rng, 10)
    prior = LearnedPrior.fit(train, {"bottom.0": 256})
    static = _static_for(train)
    bits_l = sum(_run_bits(prior, seq, check_decode=i < 2) for i, seq in enumerate(test))
    bits_s = sum(_run_bits(static, seq) for seq in test)
    assert bits_l < 0.5 * bits_s, (bits_l, bits_s)
    # and on data WITHOUT repetition it costs at most a little more than the static table
    rand = _synthetic_runs(rng, 10, p_repeat=0.0)
    prior_r = LearnedPrior.fit(_synthetic_runs(rng, 30, p_repeat=0.0), {"bottom.0": 256})
    bl = sum(_run_bits(prior_r, seq, check_decode=i < 1) for i, seq in enumerate(rand))
    bs = sum(_run_bits(static, seq) for seq in rand)
    assert bl < 1.03 * bs, (bl, bs)


def test_fit_learns_from_coded_positions_only():
    """In copy mode the repeats are copied, so what is coded rarely repeats P: a prior fitted with
    the copy maps learns that; the same codes fitted without their maps learn "P repeats" and code
    the encoder's real output worse."""
    rng = np.random.default_rng(1)
    train, test = _synthetic_runs(rng, 30, copies=True), _synthetic_runs(rng, 10, copies=True)
    assert 0.5 < np.mean([c.level("bottom").copy_map()[1:].mean() for seq in train for c in seq]) < 0.95
    stripped = [[Codes(tuple(CodeLevel(lv.name, lv.codebook_size, lv.indices) for lv in c.levels)) for c in seq]
                for seq in train]
    with_maps = LearnedPrior.fit(train, {"bottom.0": 256})
    without = LearnedPrior.fit(stripped, {"bottom.0": 256})
    assert with_maps.to_bytes() != without.to_bytes()
    bits_with = sum(_run_bits(with_maps, seq, copy_mode=True, check_decode=i < 2) for i, seq in enumerate(test))
    bits_without = sum(_run_bits(without, seq, copy_mode=True) for seq in test)
    assert bits_with < 0.9 * bits_without, (bits_with, bits_without)


# ------------------------------------------------------------------------------ the train-prior command
def test_train_prior_command_refits_the_priors_of_the_weights(tmp_path):
    from click.testing import CliRunner

    from vqcodec.cli.main import main
    weights = make_tiny_weights(tmp_path / "m.pt")
    before = load_model(weights)
    assert "learned" not in before.priors
    data = tmp_path / "videos"
    data.mkdir()
    for s in range(4):
        np.save(data / f"v{s}.npy", synthetic_video(70, 40, 40, seed=20 + s))
    old_file = encode_frames(synthetic_video(40, 32, 32, seed=5), 16, model=before, prior="empirical-static")
    old_codes = [g.codes for g in _read(before, old_file)]
    r = CliRunner().invoke(main, ["train-prior", "--model", str(weights), "--data", f"folder:{data}",
                                  "--cache-dir", str(tmp_path / "cache"), "--max-clips", "6", "--json"],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    rep = json.loads(r.output[r.output.index("{"):])
    assert rep["clips"] == 6 and rep["qualities"] == before.qualities and len(rep["rounds"]) == 2
    last = rep["rounds"][-1]
    assert last["gops"] > 0 and last["learned"] < last["empirical-static"]     # on its training codes
    after = load_model(weights)
    # both priors are refitted on the encoder's codes (with copies): the static one changes too
    assert "learned" in after.priors and after.priors["empirical-static"] != before.priors["empirical-static"]
    assert rep["prior_bytes"] == {k: len(after.priors[k]) for k in ("empirical-static", "learned")}
    EmpiricalStaticPrior.from_bytes(after.priors["empirical-static"])
    LearnedPrior.from_bytes(after.priors["learned"]).check_streams(prior_fitting.codebook_sizes(after).items())
    # the weights file changed (so did its digest), but files coded before the refit still decode
    assert after.digest != before.digest and after.legacy[before.sha256] == before.priors
    for g, w in zip(_read(after, old_file), old_codes):
        _codes_equal(g.codes, w)
    for k, v in before.net.state_dict().items():           # same network, bit for bit
        if "ema" not in k:                                  # (training statistics: not shipped)
            assert np.array_equal(v.numpy(), after.net.state_dict()[k].numpy()), k
    src = tmp_path / "in.npy"
    np.save(src, synthetic_video(70, 32, 32, seed=3))
    r = CliRunner().invoke(main, ["encode", str(src), str(tmp_path / "o.vqv"), "--model", str(weights),
                                  "--prior", "learned", "--refresh", "1", "-q"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    reader = VqvReader(io.BytesIO((tmp_path / "o.vqv").read_bytes()))
    assert reader.header.refresh_interval == 1 and reader.header.prior == "learned"
    assert not reader.header.gop_prediction and not any(c.predicted for c in reader)
    r = CliRunner().invoke(main, ["decode", str(tmp_path / "o.vqv"), str(tmp_path / "o.npy"), "--model", str(weights),
                                  "-q"], catch_exceptions=False)
    assert r.exit_code == 0 and np.load(tmp_path / "o.npy").shape == (70, 32, 32, 3)
    # to a separate file, from a weights file (no checkpoint here); the weights stay as they are
    r = CliRunner().invoke(main, ["train-prior", "--model", str(weights), "--data", f"folder:{data}",
                                  "--cache-dir", str(tmp_path / "cache"), "--max-clips", "2",
                                  "--out", str(tmp_path / "p.bin")], catch_exceptions=False)
    assert r.exit_code == 0 and "priors fitted on 2 clips" in r.output and str(tmp_path / "p.bin") in r.output
    written = LearnedPrior.from_bytes((tmp_path / "p.bin").read_bytes())
    written.check_streams(prior_fitting.codebook_sizes(after).items())
    assert set(written.models) == set(prior_fitting.codebook_sizes(after))
    assert load_model(weights).priors == after.priors
