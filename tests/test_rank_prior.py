"""The rank prior (format 6.0): a bottom code coded by the rank of its codeword's distance to the previous
slice's latent. Tables against a direct computation in Python integers, round trips on tiny models,
``auto``'s choice and the version it gives, and the 6.0 golden file (tests/golden/make_golden_rank.py:
tiny_linear.pt's top quality, two GOPs, the second predicted)."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from conftest import synthetic_video
from vqcodec.coding.decoder import decode_bytes, read_gop_codes
from vqcodec.coding.encoder import EncodedGop, encode_frames, write_container
from vqcodec.coding.prior_choice import rank_prior
from vqcodec.entropy.priors import SliceContext, UniformPrior
from vqcodec.entropy.rank_prior import BUCKET_COUNTS, RankedTables, RankPrior, rank_frequencies
from vqcodec.entropy.rans import EntropyError
from vqcodec.formats import RANK_VERSION, VqvFormatError, VqvReader, VqvWriter, version_for
from vqcodec.formats.header import decode_header, encode_header
from vqcodec.settings import EncodeSettings
from vqcodec.weights import load_model

pytestmark = pytest.mark.usefixtures("padded_gops")   # files of before 13.0: pinned bytes and versions

GOLDEN = Path(__file__).parent / "golden"
TOTAL = 1 << 24


@pytest.fixture(scope="module")
def lmodel():
    return load_model(GOLDEN / "tiny_linear.pt")


# ------------------------------------------------------------------------------------------ tables
@pytest.mark.parametrize("k", [1, 2, 3, 7, 8, 16, 64, 1000, 1024])
def test_rank_frequencies_sum_to_the_coder_total_and_share_each_bucket_equally(k):
    for stage in range(len(BUCKET_COUNTS) + 2):
        f = rank_frequencies(stage, k)
        assert f.dtype == np.int64 and f.shape == (k,) and f.min() >= 1 and int(f.sum()) == TOTAL
        # every rank of a bucket gets the same share, its first rank the remainder on top
        for b in range(k.bit_length()):
            lo, hi = (1 << b) - 1, min((1 << (b + 1)) - 1, k)
            rest = f[lo + 1:hi]
            assert (rest == rest[:1]).all() and f[lo] >= rest.max(initial=0)


def _direct_order(codebooks, ext, stage_exts, t, coded, stage):
    """Each coded position's codewords in rank order, by Python integers and a sort on (distance, index)."""
    cb = [[[int(v) for v in row] for row in np.rint(c * 4096).astype(np.int64)] for c in codebooks]
    out = []
    for y, x in zip(*np.nonzero(coded)):
        r = list(cb[stage][ext[1 + t][y, x]])
        for j, e in enumerate(stage_exts):
            a, b = cb[j][e[1 + t][y, x]], cb[j][e[2 + t][y, x]]
            r = [ri + ai - bi for ri, ai, bi in zip(r, a, b)]
        dist = [sum((ri - ci) ** 2 for ri, ci in zip(r, c)) for c in cb[stage]]
        out.append(sorted(range(len(dist)), key=lambda k: (dist[k], k)))
    return np.array(out, np.int64)


@pytest.mark.parametrize("scale", [1.0, 1.2e4])         # small codewords (float64 path) and huge ones (int64 path)
def test_ranks_follow_a_direct_integer_computation(scale):
    rng = np.random.default_rng(1)
    k, c, grid = 24, 6, (3, 4, 5)
    codebooks = [rng.normal(0, 1, (k, c)) * scale / (s + 1) for s in range(3)]
    codebooks[1][5] = codebooks[1][9]                  # two equal codewords: ties go to the lower index
    prior = RankPrior(codebooks)
    exts = [np.concatenate([np.full((1, *grid[1:]), -1), rng.integers(0, k, (1 + grid[0], *grid[1:]))])
            for _ in range(3)]
    coded = rng.random(grid[1:]) < 0.7
    n = int(coded.sum())
    for stage in range(3):
        for t in range(grid[0]):
            ctx = SliceContext(f"bottom.{stage}", k, t, exts[stage], None, None, coded, tuple(exts[:stage]))
            got = prior.slice_tables(ctx)
            assert isinstance(got, RankedTables) and got.keys.shape == (n, k)
            np.testing.assert_array_equal(got.freqs, rank_frequencies(stage, k))
            order = _direct_order(codebooks, exts[stage], exts[:stage], t, coded, stage)
            for p in range(k):
                np.testing.assert_array_equal(got.codes_of(np.full(n, p)), order[:, p])
                np.testing.assert_array_equal(got.ranks_of(order[:, p]), np.full(n, p))


@pytest.mark.parametrize("magnitude", [1 << 20, 1 << 61])     # keys sorted as values, or by an argsort
def test_ranks_and_codes_are_inverse_with_ties_in_index_order(magnitude):
    rng = np.random.default_rng(4)
    keys = rng.integers(-magnitude, magnitude, (50, 40))
    keys[:, 7] = keys[:, 3]                                    # ties: the lower index ranks first
    tables = RankedTables(rank_frequencies(0, 40), keys)
    order = np.argsort(keys, axis=1, kind="stable")
    for p in range(40):
        np.testing.assert_array_equal(tables.codes_of(np.full(50, p)), order[:, p])
    codes = rng.integers(0, 40, 50)
    np.testing.assert_array_equal(tables.codes_of(tables.ranks_of(codes)), codes)
    assert (tables.ranks_of(np.full(50, 3)) < tables.ranks_of(np.full(50, 7))).all()


def test_codewords_too_large_for_exact_keys_are_refused():
    with pytest.raises(EntropyError, match="65536"):
        RankPrior([np.full((4, 2), 70000.0)])
    with pytest.raises(EntropyError, match="65536"):
        RankPrior([np.array([[np.nan, 0.0]])])


def test_without_a_slice_before_and_for_other_levels_the_fallback_codes():
    rng = np.random.default_rng(2)
    prior = RankPrior([rng.normal(0, 1, (16, 4))], fallback=UniformPrior())
    ext = np.concatenate([np.full((2, 2, 2), -1), rng.integers(0, 16, (3, 2, 2))])
    coded = np.ones((2, 2), bool)
    uniform = UniformPrior().slice_tables(SliceContext("bottom.0", 16, 0, ext, None, None, coded))
    np.testing.assert_array_equal(prior.slice_tables(SliceContext("bottom.0", 16, 0, ext, None, None, coded)), uniform)
    np.testing.assert_array_equal(prior.slice_tables(SliceContext("top.0", 16, 1, ext, None, None, coded)), uniform)
    assert prior.slice_tables(SliceContext("bottom.0", 16, 1, ext, None, None, coded)).keys.shape == (4, 16)
    with pytest.raises(EntropyError, match="do not fit"):          # a stream the codebooks do not have
        prior.slice_tables(SliceContext("bottom.3", 16, 1, ext, None, None, coded))


def test_the_nearest_codeword_to_the_slice_before_is_the_cheapest():
    rng = np.random.default_rng(3)
    cb = rng.normal(0, 1, (32, 8))
    prior = RankPrior([cb])
    ext = np.full((4, 1, 1), -1)
    ext[2, 0, 0] = 11                                              # slice 0 coded 11: slice 1 ranks around it
    got = prior.slice_tables(SliceContext("bottom.0", 32, 1, ext, None, None, np.ones((1, 1), bool)))
    assert got.ranks_of(np.array([11]))[0] == 0 and got.codes_of(np.array([0]))[0] == 11
    assert got.freqs.argmax() == 0 and got.freqs[0] > 2 * np.sort(got.freqs)[-2]


# ------------------------------------------------------------------------------------------ round trips
def test_rank_round_trip_over_refresh_and_predicted_gops(lmodel):
    frames = synthetic_video(72, 32, 40, seed=2)
    data = encode_frames(frames, 16, model=lmodel, quality=3, prior="rank", refresh=2, motion_bends=False)
    reader = VqvReader(io.BytesIO(data))
    assert reader.version == RANK_VERSION and reader.header.prior == "rank" and len(reader) == 3
    assert [reader.is_refresh(i) for i in range(3)] == [True, False, True]
    same = encode_frames(frames, 16, model=lmodel, quality=3, prior="empirical-static", refresh=2, motion_bends=False)
    np.testing.assert_array_equal(decode_bytes(data, model=lmodel), decode_bytes(same, model=lmodel))
    codes = [g.codes for g in read_gop_codes(reader, lmodel)]
    again = [g.codes for g in read_gop_codes(VqvReader(io.BytesIO(same)), lmodel)]
    for a, b in zip(codes, again):
        for la, lb in zip(a.levels, b.levels):
            np.testing.assert_array_equal(la.indices, lb.indices)


def test_rank_with_the_motion_layer_and_its_residual(lmodel):
    from conftest import pan_video
    frames = pan_video(40, 32, 40, dx=1, dy=1)
    data = encode_frames(frames, 16, model=lmodel, quality=3, prior="rank", motion=True, refresh=0)
    reader = VqvReader(io.BytesIO(data))        # with bent paths (the default): a 7.0 file may have the rank prior
    assert reader.version == (7, 0) and reader.header.prior == "rank" and reader.motion_residual == ((1, 1),)
    plain = encode_frames(frames, 16, model=lmodel, quality=3, prior="empirical-static", motion=True, refresh=0)
    np.testing.assert_array_equal(decode_bytes(data, model=lmodel), decode_bytes(plain, model=lmodel))
    no_res = encode_frames(frames, 16, model=lmodel, quality=3, prior="rank", motion=True, motion_residual=False,
                           motion_bends=False)
    r = VqvReader(io.BytesIO(no_res))
    assert r.version == RANK_VERSION and r.motion_layer and r.motion_residual == ()
    assert decode_bytes(no_res, model=lmodel).shape == frames.shape


def test_auto_keeps_rank_only_when_it_is_strictly_smaller(lmodel, tiny_model):
    frames = synthetic_video(40, 32, 40, seed=5)
    # without the motion layer: its decisions are priced once, by the learned prior, for every candidate
    sizes = {p: len(encode_frames(frames, 16, model=lmodel, quality=3, prior=p, refresh=0, motion=False))
             for p in ("uniform", "empirical-static", "empirical-adaptive", "rank")}
    auto = encode_frames(frames, 16, model=lmodel, quality=3, prior="auto", refresh=0, motion=False)
    assert len(auto) == min(sizes.values())
    reader = VqvReader(io.BytesIO(auto))
    if sizes["rank"] < min(v for p, v in sizes.items() if p != "rank"):
        assert reader.header.prior == "rank" and reader.version == RANK_VERSION
    else:
        assert reader.header.prior != "rank" and reader.version == (2, 0)
    # a model whose bottom level is all copies or absent codes the same under rank as its fallback:
    # auto keeps the earlier prior on the tie, and the file keeps its older version
    still = np.repeat(frames[:1], 40, 0)
    r = VqvReader(io.BytesIO(encode_frames(still, 16, model=tiny_model, quality=1, prior="auto", motion=False)))
    assert r.version != RANK_VERSION or r.header.prior == "rank"


def test_rank_prior_of_a_model_is_built_once(lmodel):
    assert rank_prior(lmodel) is rank_prior(lmodel)
    assert len(rank_prior(lmodel).codebooks) == lmodel.net.bottom_quantizer.stages


# ------------------------------------------------------------------------------------------ format 6.0
def test_the_golden_rank_file_decodes_and_rewrites_to_the_same_bytes(lmodel):
    golden = (GOLDEN / "golden_rank.vqv").read_bytes()
    reader = VqvReader(io.BytesIO(golden))
    h = reader.header
    assert reader.version == (6, 0) and h.prior == "rank" and not reader.motion_layer and len(reader) == 2
    want = np.load(GOLDEN / "golden_rank_codes.npz")
    got = list(read_gop_codes(reader, lmodel))
    assert not got[1].refresh
    for g in got:
        for lv in g.codes.levels:
            np.testing.assert_array_equal(lv.indices, want[f"gop{g.index}_{lv.name}"])
            np.testing.assert_array_equal(lv.copy_map(), want[f"gop{g.index}_{lv.name}_copied"])
    frames = decode_bytes(golden, model=lmodel)
    ref = np.load(GOLDEN / "golden_rank_frames.npy")
    diff = np.abs(frames.astype(int) - ref.astype(int))
    assert frames.shape == ref.shape and diff.max() <= 1 and (diff > 0).mean() < 0.01
    gops = [EncodedGop(g.codes, g.frames, reader.is_refresh(g.index)) for g in got]
    settings = EncodeSettings(h.quality, lmodel.point(h.quality), h.prior, rdo_strength=1.0,
                              refresh=h.refresh_interval, motion=False)
    out = io.BytesIO()
    write_container(out, lmodel, settings, gops, source_size=(h.source_width, h.source_height),
                    coded_size=(h.coded_width, h.coded_height), fps=h.fps_num / h.fps_den)
    assert out.getvalue() == golden
    assert encode_frames(synthetic_video(40, 32, 40, seed=5), 16, model=lmodel, quality=3, prior="rank",
                         refresh=0, motion=False) == golden


def test_version_6_is_the_rank_prior_and_only_it():
    for motion in (False, True):
        for sections in (False, True):
            for residual in (False, True):
                assert version_for(motion, sections, residual, True) == RANK_VERSION
                assert version_for(motion, sections, residual, False) != RANK_VERSION
    from formats_helpers import _header
    for version, prior in (((5, 0), "rank"), ((2, 0), "rank"), ((6, 0), "learned")):
        header = _header(prior=prior, copy_mode=True, motion_layer=version == (5, 0),
                         motion_residual=((1, 1),) if version == (5, 0) else ())
        with pytest.raises(ValueError, match="rank prior"):
            with VqvWriter(io.BytesIO(), version) as w:
                w.finish(header)


def test_a_rank_prior_in_an_older_header_is_refused_in_one_line():
    from formats_helpers import _header
    raw = encode_header(_header(prior="rank"))
    assert decode_header(raw, 6).prior == "rank"
    for major in (2, 3, 4):
        with pytest.raises(VqvFormatError, match="prior 4") as e:
            decode_header(raw, major)
        assert "\n" not in str(e.value)


# ------------------------------------------------------------------------------------------ command and damage
def test_the_command_writes_and_reads_a_rank_file(tmp_path):
    from click.testing import CliRunner

    from vqcodec.cli.main import main
    src, out, back = tmp_path / "in.npy", tmp_path / "o.vqv", tmp_path / "back.npy"
    np.save(src, synthetic_video(40, 32, 40, seed=5))
    model = str(GOLDEN / "tiny_linear.pt")
    run = CliRunner().invoke
    r = run(main, ["encode", str(src), str(out), "-Q", "3", "--prior", "rank", "--model", model, "-q", "--no-motion-bends"])
    assert r.exit_code == 0, r.output
    assert VqvReader(io.BytesIO(out.read_bytes())).header.prior == "rank"
    info = run(main, ["info", str(out), "--model", model])
    assert info.exit_code == 0 and "6.0" in info.output and "rank" in info.output
    assert run(main, ["decode", str(out), str(back), "--model", model, "-q"]).exit_code == 0
    assert np.load(back).shape == (40, 32, 40, 3)


def test_a_damaged_rank_payload_under_a_valid_crc_is_an_error_or_other_codes_never_a_crash(lmodel):
    from vqcodec.formats import GopChunk
    golden = (GOLDEN / "golden_rank.vqv").read_bytes()
    reader = VqvReader(io.BytesIO(golden))
    rng = np.random.default_rng(9)
    outcomes = {"error": 0, "decoded": 0}
    for trial in range(40):
        chunks = [reader.read_chunk(i) for i in range(len(reader))]
        i = trial % len(chunks)
        payload = bytearray(chunks[i].payload)
        payload[int(rng.integers(0, len(payload)))] ^= 1 << int(rng.integers(0, 8))
        chunks[i] = GopChunk(chunks[i].index, chunks[i].frame_count, chunks[i].symbol_counts, chunks[i].predicted,
                             bytes(payload))
        buf = io.BytesIO()
        with VqvWriter(buf, reader.version) as w:               # the writer computes valid CRCs
            for c in chunks:
                w.write_chunk(c)
            w.finish(reader.header)
        try:
            frames = decode_bytes(buf.getvalue(), model=lmodel)
            assert frames.shape == (40, 32, 40, 3)
            outcomes["decoded"] += 1
        except EntropyError as e:
            assert "\n" not in str(e) and "GOP" in str(e)
            outcomes["error"] += 1
    assert outcomes["error"] > 0
