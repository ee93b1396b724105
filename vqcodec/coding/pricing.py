"""Every candidate prior of a file coded in one walk of its GOPs (``--prior auto``).

``auto`` keeps the prior whose payloads are smallest, so each candidate must code the whole file
exactly. Most of a GOP's payload does not depend on the prior: the copy decisions, the scalar and
enhancement layers and the motion layer have their own models; only the VQ levels' codes take the
prior's tables. :func:`code_file_each` walks each GOP once (the walk of
:func:`~vqcodec.coding.gop_coding.code_gop`, as a single prior's encode does), records what does not
depend on the prior once for all candidates and the levels' codes under each candidate, then runs
the coder once per candidate: the same payloads, bits and counts as coding the file under each
prior alone (tests/test_priors.py), at the cost of one walk and a few coder runs.
"""
from __future__ import annotations

from vqcodec.codes import Codes
from vqcodec.coding.gop_coding import CodedGop, EncodeChannel, GopReference, code_gop, layout_of
from vqcodec.entropy.priors import Prior, SliceContext
from vqcodec.entropy.scalar_prior import ScalarTables


class _EachPriors(list):
    """One table (or per-symbol tables) per candidate prior, in the candidates' order."""


class _AllPriors(Prior):
    """The candidates as one prior for the walk: a slice's tables are every candidate's."""

    def __init__(self, priors: list[Prior]) -> None:
        self.priors = priors

    def slice_tables(self, ctx: SliceContext) -> _EachPriors:
        return _EachPriors(p.slice_tables(ctx) for p in self.priors)


class _PricingChannel:
    """An encoder's channel per candidate: tables given for every candidate go to each one's channel,
    any other symbols (the same under every prior) are prepared once and go to all."""

    def __init__(self, n: int) -> None:
        self.channels = [EncodeChannel() for _ in range(n)]

    def code(self, tables, n: int, symbols, label: str = ""):
        if isinstance(tables, _EachPriors):
            for ch, t in zip(self.channels, tables):
                sym = ch.code(t, n, symbols, label)
            return sym
        sym, pair, bits = EncodeChannel.prepare(tables, n, symbols, label)
        for ch in self.channels:
            ch.add(pair, bits, label)
        return sym

    def check_not_exhausted(self) -> None:
        """Nothing to check on the encoder's side."""


def code_file_each(priors: list[Prior], codes: list[tuple[Codes, bool]], copy_mode: bool,
                   scalar: ScalarTables | None = None, enhancement: ScalarTables | None = None,
                   motion: bool = False, end_check: bool = True, bends: int = 0) -> list[list[CodedGop]]:
    """Per prior, a file's GOPs entropy-coded in order (``codes``: each GOP's codes and whether it
    is a refresh GOP; a predicted GOP refers to the one before), as
    :func:`vqcodec.coding.encoder.code_file` codes them under that prior alone."""
    each = _AllPriors(priors)
    out: list[list[CodedGop]] = [[] for _ in priors]
    ref: GopReference | None = None
    for gop_codes, refresh in codes:
        channel = _PricingChannel(len(priors))
        res = code_gop(layout_of(gop_codes), each, channel, copy_mode=copy_mode, reference=None if refresh else ref,
                       codes=gop_codes, scalar=scalar, enhancement=enhancement, motion=motion,
                       bends=bends)
        for coded, ch in zip(out, channel.channels):
            coded.append(CodedGop(res.codes, res.counts, res.reference, ch.payload(end_check), ch.bits))
        ref = res.reference
    return out
