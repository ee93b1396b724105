"""The motion residual: what a predicted block's prediction missed, coded with the bottom quantiser's
own residual codebooks through the linear path (no training).

A predicted block (:mod:`vqcodec.coding.motion`) may carry a *residual*: one of a few *options*
``(first, count)``, each meaning "stages ``first .. first + count - 1`` of the bottom residual VQ",
and one code per stage. The decoder adds to the block's prediction the pixels

    res = (Wd · sum of the stages' codewords + 2^23) >> 24        (Wd: the linear decoder, lin_dec)

computed in integers only: ``Wd`` is ``lin_dec``'s weight times 127.5 x 2^12 and each codeword is
times 2^12, both rounded to int64 once from the shipped float32 weights (exact), so every machine
adds the same pixels. The encoder projects the pixel residual with the linear encoder (``lin_enc``)
and picks the codes greedily, stage by stage (floats: only the encoder decides).

Why these codebooks fit: a prediction's residual latent has the norm of the later stages' codewords
(docs/DESIGN.md, "Motion residual", has the measurements).

Coding (SPEC.md, payload item 5(c)): per slice, after the vectors, the option of every predicted
block (0 = none) in row-major order under an adaptive integer table, then option by option and stage
by stage the codes of the blocks with that option, in row-major order, under a uniform table of the
codebook's size. In a version-8 file a predicted block may instead take one of the *conditional
coders* (:mod:`vqcodec.coding.conditional_coder`): options ``len(options) + 1 ..``, each followed by
its blocks' symbols, channel by channel, under the coder's static integer tables (:class:`CoderTables`).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from vqcodec.entropy.rans import EntropyError, SelectedRows, TableSet, freqs_from_counts, uniform_freqs

RESIDUAL_LABEL = "motion.residual"        # the residual's bit-report label
CONDITIONAL_LABEL = "motion.conditional"  # the conditional coders' symbols' bit-report label
INTRA_LABEL = "motion.intra"              # a refresh GOP's first slice's coder options and symbols (version 9)
#: The options the reference encoder offers: stages (first, count) of the bottom quantiser
#: (experiments/motion_layer/latent_residual.py measured these against wider sets).
DEFAULT_OPTIONS: tuple[tuple[int, int], ...] = ((1, 1), (2, 1), (3, 1), (2, 2))


def options_for(stages: int) -> tuple[tuple[int, int], ...]:
    """The default options a quantiser of ``stages`` bottom stages can take (none below 2 stages)."""
    return tuple(o for o in DEFAULT_OPTIONS if o[0] + o[1] <= stages)


WEIGHT_SHIFT = 12                          # Wd and the codewords are scaled by 2^12 each
EXACT_FLOAT = 1 << 53                      # integers below this are exact in float64, sums of them too
PIXEL_SCALE = 127.5                        # one latent unit in 8-bit pixel levels (the net's input scale)
OPTION_START = (48, 16)                    # starting counts: no residual, each option
COUNT_STEP = 8
COUNT_LIMIT = 1 << 12


@dataclass(frozen=True)
class ResidualBasis:
    """The integer tables a decoder needs (and the float ones the encoder searches with)."""

    codebooks: tuple[np.ndarray, ...]      # per bottom stage: int64 (K, C), codewords x 2^12
    decoder: np.ndarray                    # int64 (3 * bt * bh * bw, C): lin_dec x 127.5 x 2^12
    encoder: np.ndarray                    # float64 (C, 3 * bt * bh * bw): lin_enc / 127.5 (encoder only)
    float_codebooks: tuple[np.ndarray, ...]
    block: tuple[int, int, int]
    decoder_float: np.ndarray              # ``decoder`` as float64 (the same integers)
    decoder_reach: int                     # the largest sum of |Wd| over a row: |Wd q| <= it x max|q|

    @property
    def codebook_size(self) -> int:
        return int(self.codebooks[0].shape[0])

    @property
    def stages(self) -> int:
        return len(self.codebooks)

    @classmethod
    def from_network(cls, net) -> "ResidualBasis | None":
        """From a network with a linear path (None without one)."""
        if not getattr(net.cfg, "linear_path", False):
            return None
        scale = float(1 << WEIGHT_SHIFT)
        cbs = [layer.codebook.detach().cpu().float().numpy().astype(np.float64) for layer in net.bottom_quantizer.layers]
        wd = net.lin_dec.weight.detach().cpu().float().numpy().astype(np.float64).reshape(net.lin_dec.weight.shape[0], -1)
        we = net.lin_enc.weight.detach().cpu().float().numpy().astype(np.float64).reshape(net.lin_enc.weight.shape[0], -1)
        dec = np.rint(wd * (PIXEL_SCALE * scale)).astype(np.int64)
        return cls(tuple(np.rint(c * scale).astype(np.int64) for c in cbs), dec, we / PIXEL_SCALE, tuple(cbs),
                   tuple(int(v) for v in net.cfg.bottom_factor), dec.astype(np.float64),
                   int(np.abs(dec).sum(1).max()))

    def check_options(self, options) -> None:
        """A data error if the file's options name stages this model does not have."""
        for first, count in options:
            if first + count > self.stages:
                raise EntropyError(f"motion residual: stages {first}..{first + count - 1} named, but the model's "
                                   f"bottom quantiser has {self.stages}")

    def pixels(self, options, option: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """The residual of ``n`` blocks: ``option`` (n,) in 1..len(options), ``codes`` (n, S) ->
        int64 (n, bt, bh, bw, 3) pixel levels, in integers only."""
        n = len(option)
        q = np.zeros((n, self.decoder.shape[1]), np.int64)
        for k, (first, count) in enumerate(options, start=1):
            sel = option == k
            for i in range(count):
                q[sel] += self.codebooks[first + i][codes[sel, i]]
        if n and self.decoder_reach * int(np.abs(q).max()) < EXACT_FLOAT:
            # every product and partial sum is an integer below 2^53, so float64 (BLAS, any order) is exact
            wq = np.rint(q.astype(np.float64) @ self.decoder_float.T).astype(np.int64)
        else:
            wq = q @ self.decoder.T
        r = (wq + (1 << (2 * WEIGHT_SHIFT - 1))) >> (2 * WEIGHT_SHIFT)
        bt, bh, bw = self.block
        return r.reshape(n, 3, bt, bh, bw).transpose(0, 2, 3, 4, 1)

    @functools.cached_property
    def _decoder_by_pixel(self) -> np.ndarray:
        """``decoder_float`` with its rows in a block's (bt, bh, bw, 3) pixel order."""
        bt, bh, bw = self.block
        c = self.decoder_float.shape[1]
        return np.ascontiguousarray(self.decoder_float.reshape(3, bt, bh, bw, c).transpose(1, 2, 3, 0, 4).reshape(-1, c))

    def predicted_blocks(self, first: int, count: int, codes: np.ndarray, pred: np.ndarray, source: np.ndarray,
                         frames: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``n`` blocks that all take stages ``first .. first + count - 1`` with ``codes`` (n, >= count):
        ``add_residual(pred, pixels(...))`` (uint8 (n, bt, bh, bw, 3)) and its SSE against ``source``
        (float64 (n,); over the blocks' first ``frames`` frames where given), the same integers computed in
        place in float64 where every value is an integer below 2^53 (the encoder's search prices every block
        under every option this way)."""
        n = len(codes)
        kept = None if frames is None else frames * int(np.prod(pred.shape[2:]))   # a row's first frames
        q = self.codebooks[first][codes[:, 0]]
        for i in range(1, count):
            q = q + self.codebooks[first + i][codes[:, i]]
        if not n or self.decoder_reach * int(np.abs(q).max()) >= EXACT_FLOAT - (1 << 23):
            blocks = add_residual(pred, self.pixels(((first, count),), np.ones(n, np.int64), codes))
            return blocks, ((blocks.astype(np.int64) - source)[:, :frames] ** 2).reshape(n, -1).sum(1).astype(np.float64)
        x = q.astype(np.float64) @ self._decoder_by_pixel.T       # Wd q, exact: integers below 2^53
        blocks, sse = np.empty(x.shape, np.uint8), np.empty(n)
        for rows in _row_chunks(n):                               # (in cache)
            v = x[rows]
            v += 1 << (2 * WEIGHT_SHIFT - 1)
            v *= 2.0 ** (-2 * WEIGHT_SHIFT)
            np.floor(v, out=v)                                    # (Wd q + 2^23) >> 24, exact
            v += pred[rows].reshape(len(v), -1)
            np.clip(v, 0, 255, out=v)
            blocks[rows] = v
            v -= source[rows].reshape(len(v), -1)
            v = v[:, :kept]
            v *= v
            sse[rows] = v.sum(1)
        return blocks.reshape(pred.shape), sse


#: Rows of a block array worked on at once where a pass over all of them would leave the cache.
CHUNK_ROWS = 256


def _row_chunks(n: int):
    return (slice(s, s + CHUNK_ROWS) for s in range(0, n, CHUNK_ROWS))


def nearest_codes(left: np.ndarray, codebook: np.ndarray) -> np.ndarray:
    """Per row of ``left`` (n, C), the index of the nearest codeword (the first on a tie), from the
    floats ``|l|^2 - 2 l.c + |c|^2`` (this order: the same floats as ever, so the same choices)."""
    d = left @ codebook.T
    norms, cb_norms = (left * left).sum(1), (codebook * codebook).sum(1)
    out = np.empty(len(left), np.int64)
    for rows in _row_chunks(len(left)):                           # the three passes in cache
        v = d[rows]
        v *= -2
        v += norms[rows, None]
        v += cb_norms[None]
        out[rows] = v.argmin(1)
    return out


def add_residual(pred: np.ndarray, res: np.ndarray) -> np.ndarray:
    """A block's prediction (uint8) plus its residual, clipped to 0..255."""
    return np.clip(pred.astype(np.int64) + res, 0, 255).astype(np.uint8)


def choose_residuals(basis: ResidualBasis, options, source: np.ndarray, pred: np.ndarray, lam: float,
                     option_bits: float, real: int | None = None) -> tuple:
    """Per block (n source and predicted blocks, (n, bt, bh, bw, 3) uint8): the option of least
    ``D + lam * R`` among ``options`` (each greedy; R: the codes' bits plus ``option_bits``), with
    its codes and reconstruction. Returns (option (n,) 1-based, codes (n, S), blocks uint8, SSE (n,),
    bits (n,)) for the best option (the caller weighs it against no residual). ``real``: the SSE over the blocks'
    first ``real`` frames only (the rest is padding)."""
    n = source.shape[0]
    diff = np.empty((n, source.shape[-1], *source.shape[1:-1]))      # (n, 3, bt, bh, bw): lin_enc's order
    np.subtract(source.transpose(0, 4, 1, 2, 3), pred.transpose(0, 4, 1, 2, 3), out=diff, dtype=np.float64)
    diff = diff.reshape(n, -1)
    r = diff @ basis.encoder.T
    width = max(c for _, c in options)
    found, costs, option_bits_of = [], [], []
    greedy: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}   # (first, i) -> (codes, what is left)
    for first, count in options:
        codes = np.zeros((n, width), np.int64)
        left = r
        for i in range(count):
            if (first, i) not in greedy:          # options that start alike share their first stages
                cb = basis.float_codebooks[first + i]
                c = nearest_codes(left, cb)
                greedy[first, i] = c, left - cb[c]
            codes[:, i], left = greedy[first, i]
        blocks, sse = basis.predicted_blocks(first, count, codes, pred, source, real)
        bits = count * np.log2(basis.codebook_size) + option_bits
        found.append((codes, blocks, sse))
        costs.append(sse + lam * bits)
        option_bits_of.append(bits)
    best = np.argmin(np.stack(costs), axis=0)         # the first of the least: the earlier option on a tie
    rows = np.arange(n)
    codes, blocks, sse = (np.stack([f[j] for f in found])[best, rows] for j in range(3))
    return best + 1, codes, blocks, sse, np.array(option_bits_of)[best]


@dataclass(frozen=True, eq=False)     # (compared and hashed by identity: it holds arrays)
class CoderTables:
    """The conditional coders' static entropy tables (integers only, from the coder file): ``counts``
    int64 (coders, channels, contexts, 2 limit + 1), per coder, latent channel and context the counts
    of the symbols ``-limit .. limit``; each row becomes a table by :func:`freqs_from_counts` (exact
    everywhere). A block's symbol of channel ``c`` is coded under the context that its activity, the
    sum of the magnitudes of its symbols of channels ``0 .. c-1``, reaches among ``edges`` (ascending
    integers; context 0 below the first; :meth:`contexts`)."""

    counts: np.ndarray
    limit: int
    edges: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.counts.ndim != 4 or self.counts.shape[2] != len(self.edges) + 1:
            raise ValueError("CoderTables: counts must be (coders, channels, len(edges) + 1, 2 limit + 1)")

    @property
    def coders(self) -> int:
        return int(self.counts.shape[0])

    @property
    def channels(self) -> int:
        return int(self.counts.shape[1])

    @functools.cached_property
    def freqs(self) -> np.ndarray:
        """int64 (coders, channels, contexts, 2 limit + 1), rows summing to 2^24."""
        c = self.counts
        return freqs_from_counts(c.reshape(-1, c.shape[-1])).reshape(c.shape)

    @functools.cached_property
    def table_set(self) -> TableSet:
        """:attr:`freqs` as one set of rows, row ``(coder * channels + channel) * contexts + context``."""
        return TableSet(self.freqs.reshape(-1, self.freqs.shape[-1]))

    def rows(self, coder: int, channel, context) -> np.ndarray:
        """The rows of :attr:`table_set` of coder ``coder``'s symbols of ``channel`` (an int, or an array broadcast
        against ``context``) in the blocks of ``context``: int64."""
        channel, context = np.asarray(channel, np.int64), np.asarray(context, np.int64)
        return (coder * self.channels + channel) * self.counts.shape[2] + context

    def select(self, coder: int, channel: int, context: np.ndarray) -> SelectedRows:
        """The tables of coder ``coder``'s symbols of channel ``channel`` in the blocks of ``context``."""
        return self.table_set.select(self.rows(coder, channel, context))

    @functools.cached_property
    def bits(self) -> np.ndarray:
        """float64 (coders, channels, contexts, 2 limit + 1): each symbol's bits under its table (the encoder's prices)."""
        return -np.log2(self.freqs / float(1 << 24))

    def contexts(self, activity: np.ndarray) -> np.ndarray:
        """The context of each block's next channel from its ``activity`` (integers): how many edges it reaches."""
        return np.searchsorted(self._edges, activity, side="right")

    @functools.cached_property
    def _edges(self) -> np.ndarray:
        return np.asarray(self.edges, np.int64)

    def all_contexts(self, symbols: np.ndarray) -> np.ndarray:
        """Each symbol's context, for symbols (..., channels): the activity of the channels before it."""
        mag = np.abs(symbols.astype(np.int64))
        return self.contexts(np.cumsum(mag, -1) - mag)


@dataclass(frozen=True)
class ResidualSyntax:
    """What a version-8 file's motion residual is coded with: its stage options and the conditional
    coders' tables (a 5.x-7.x file passes its options alone)."""

    options: tuple[tuple[int, int], ...]
    coder: CoderTables
    intra: bool = False     # version 9: a refresh GOP's first slice's blocks may take a coder too


class ResidualCoder:
    """Codes the residual options and codes of a slice's predicted blocks (adaptive option counts,
    carried from GOP to GOP like the vectors' tables); with ``coder`` (version 8) the conditional
    coders' options and symbols too."""

    def __init__(self, options, codebook_size: int, counts: np.ndarray | None = None,
                 coder: CoderTables | None = None, intra: bool = False) -> None:
        self.options = tuple(tuple(int(v) for v in o) for o in options)
        self.codebook_size = int(codebook_size)
        self.coder = coder
        self.intra = bool(intra) and coder is not None
        if counts is None:
            n = len(self.options) + (coder.coders if coder is not None else 0)
            counts = np.array([OPTION_START[0]] + [OPTION_START[1]] * n, np.int64)
        self.counts = np.array(counts, np.int64)

    def clone(self) -> "ResidualCoder":
        return ResidualCoder(self.options, self.codebook_size, self.counts, self.coder, self.intra)

    def code_intra(self, channel, shape: tuple[int, int], option: np.ndarray | None,
                   symbols: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """A refresh GOP's first slice (version 9): per block whether a conditional coder refines the
        network's reconstruction, and which (one fixed table over none and each coder: the residual
        options' starting counts), then the symbols of the blocks that took each coder, as a predicted
        block's are coded. The encoder passes ``option`` (H, W: 0, or the coder's option number as a
        predicted block's) and ``symbols`` (H, W, channels), the decoder None. Returns both as coded."""
        first = len(self.options) + 1
        n_coders = self.coder.coders
        out_opt = np.zeros(shape, np.int32)
        out_sym = np.zeros((*shape, self.coder.channels), np.int32)
        want = None
        if option is not None:
            opt = np.asarray(option, np.int64)
            if ((opt != 0) & ((opt < first) | (opt >= first + n_coders))).any():
                raise EntropyError("motion layer: a first-slice block's option is not a conditional coder")
            want = np.where(opt > 0, opt - first + 1, 0).reshape(-1)
        counts = np.array([OPTION_START[0]] + [OPTION_START[1]] * n_coders, np.int64)
        got = np.asarray(channel.code(freqs_from_counts(counts), out_opt.size, want, INTRA_LABEL),
                         np.int64).reshape(shape)
        out_opt[...] = np.where(got > 0, got + first - 1, 0)
        for j in range(n_coders):
            sel = got == j + 1
            m = int(sel.sum())
            if m:
                out_sym[sel] = self._code_symbols(channel, j, m, None if symbols is None else symbols[sel], INTRA_LABEL)
        return out_opt, out_sym

    def code_slice(self, channel, flags: np.ndarray, option: np.ndarray | None, codes: np.ndarray | None,
                   symbols: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """One slice: ``flags`` (H, W) the predicted blocks; the encoder passes ``option`` (H, W),
        ``codes`` (H, W, S) and with conditional coders ``symbols`` (H, W, channels), the decoder None.
        Returns the three as coded (symbols None without coders)."""
        width = max(c for _, c in self.options)
        out_opt = np.zeros(flags.shape, np.int32)
        out_codes = np.zeros((*flags.shape, width), np.int32)
        out_sym = None if self.coder is None else np.zeros((*flags.shape, self.coder.channels), np.int32)
        n = int(flags.sum())
        if not n:
            return out_opt, out_codes, out_sym
        want = None if option is None else np.asarray(option[flags], np.int64)
        got = np.asarray(channel.code(freqs_from_counts(self.counts), n, want, RESIDUAL_LABEL), np.int64)
        out_opt[flags] = got
        self.counts += COUNT_STEP * np.bincount(got, minlength=len(self.counts))
        if self.counts.sum() > COUNT_LIMIT:
            self.counts = (self.counts + 1) >> 1
        table = uniform_freqs(self.codebook_size)
        for k, (_, count) in enumerate(self.options, start=1):
            sel = flags & (out_opt == k)
            m = int(sel.sum())
            for i in range(count if m else 0):
                w = None if codes is None else np.asarray(codes[..., i][sel], np.int64)
                out_codes[..., i][sel] = channel.code(table, m, w, RESIDUAL_LABEL)
        for j in range(self.coder.coders if self.coder is not None else 0):
            sel = flags & (out_opt == len(self.options) + 1 + j)
            m = int(sel.sum())
            if m:
                out_sym[sel] = self._code_symbols(channel, j, m, None if symbols is None else symbols[sel])
        return out_opt, out_codes, out_sym

    def _code_symbols(self, channel, j: int, m: int, symbols: np.ndarray | None,
                      label: str = CONDITIONAL_LABEL) -> np.ndarray:
        """Coder ``j``'s symbols of the ``m`` blocks that took it (m, channels), channel by channel, each
        block's symbol under its context's table."""
        tables, lim = self.coder, self.coder.limit
        if symbols is not None:
            # the encoder knows every channel's context already: the same symbols under the same tables, in the
            # decoder's order (channel by channel), as one stream instead of one per channel (the same bytes)
            s = np.asarray(symbols, np.int64)
            if s.min() < -lim or s.max() > lim:
                raise EntropyError(f"conditional coder: a symbol beyond +-{lim}")
            rows = tables.rows(j, np.arange(tables.channels)[:, None], tables.all_contexts(s).T)   # (channels, m)
            got = channel.code(tables.table_set.select(rows), m * tables.channels, (s + lim).T, label)
            return (np.asarray(got, np.int64).reshape(tables.channels, m).T - lim).astype(np.int32)
        # the decoder learns each channel's context from the channels decoded before it
        out, activity = np.zeros((m, tables.channels), np.int32), np.zeros(m, np.int64)
        for c in range(tables.channels):
            rows = tables.rows(j, c, tables.contexts(activity))          # rows of the set by construction
            got = channel.code_rows(tables.table_set, rows, label).astype(np.int64) - lim
            out[:, c] = got
            activity += np.abs(got)
        return out


#: Estimated bits of a predicted block's option symbol: "none", and one of the options (the
#: adaptive table's typical costs; the codes' bits come on top)
NONE_BITS = 1.0
OPTION_BITS = 3.0


def _blocks(frames: np.ndarray, block: tuple[int, int, int]) -> np.ndarray:
    """A slice (bt, H, W, 3) -> its blocks (H' * W', bt, bh, bw, 3), row-major."""
    bt, bh, bw = block
    _, h, w, c = frames.shape
    return frames.reshape(bt, h // bh, bh, w // bw, bw, c).transpose(1, 3, 0, 2, 4, 5).reshape(-1, bt, bh, bw, c)


def _unblocks(blocks: np.ndarray, h: int, w: int) -> np.ndarray:
    n, bt, bh, bw, c = blocks.shape
    return blocks.reshape(h // bh, w // bw, bt, bh, bw, c).transpose(2, 0, 3, 1, 4, 5).reshape(bt, h, w, c)


def slice_residuals(coded, source: np.ndarray, trial: np.ndarray, d_mc: np.ndarray, lam: float, real: int | None = None):
    """One slice's predicted blocks (``trial``, every block predicted) with the residual that pays
    against none (``coded``: a :class:`~vqcodec.coding.motion.MotionResidual`). Returns (option (H', W'),
    codes (H', W', S), the slice with the residuals added, each block's SSE and its residual's bits). ``real``:
    only the slice's first ``real`` frames count in the SSE."""
    basis = coded.basis
    hb, wb = d_mc.shape
    lam = lam if np.ndim(lam) == 0 else np.reshape(lam, -1)       # (a lambda per block: (H', W'))
    option, codes, blocks, sse, bits = choose_residuals(basis, coded.options, _blocks(source, basis.block),
                                                        _blocks(trial, basis.block), lam, OPTION_BITS, real)
    use = (sse + lam * bits < d_mc.reshape(-1) + lam * NONE_BITS)
    h, w = source.shape[1:3]
    pred = _blocks(trial, basis.block)
    out = _unblocks(np.where(use[:, None, None, None, None], blocks, pred), h, w)
    return (np.where(use, option, 0).reshape(hb, wb), np.where(use[:, None], codes, 0).reshape(hb, wb, -1), out,
            np.where(use, sse, d_mc.reshape(-1)).reshape(hb, wb),
            np.where(use, bits, NONE_BITS).reshape(hb, wb))
