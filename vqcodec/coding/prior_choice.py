"""Which prior codes a file: the one the encoder prices its decisions with, the candidates ``auto``
tries, and the one a file's header names (for the decoder)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from vqcodec.codes import Codes
from vqcodec.coding.gop_coding import LevelLayout
from vqcodec.coding.gops import coded_symbols, layout_streams
from vqcodec.entropy.learned_prior import LearnedPrior, load_learned
from vqcodec.entropy.priors import EmpiricalAdaptivePrior, EmpiricalStaticPrior, Prior, UniformPrior, prior_from_header
from vqcodec.entropy.rank_prior import RankPrior
from vqcodec.entropy.rans import EntropyError
from vqcodec.errors import VqvError, one_line, printable
from vqcodec.settings import PRIOR_CHOICES
from vqcodec.weights_check import WeightsError

if TYPE_CHECKING:
    from vqcodec.formats import VqvReader
    from vqcodec.weights import CodecModel


def _parsed(model: CodecModel, kind: str, parse):
    """``parse(blob)`` of the model's ``kind`` prior (None if it ships none), parsed once per blob:
    the learned prior takes 50 ms to read, and every encode and decode asks for it."""
    blob = model.priors.get(kind)
    hit = model.parsed_priors.get(kind)
    if hit is None or hit[0] is not blob:
        try:
            parsed = None if blob is None else parse(blob)
        except EntropyError as e:
            raise _unusable(model, kind, e) from None
        hit = model.parsed_priors[kind] = (blob, parsed)
    return hit[1]


def static_prior(model: CodecModel) -> EmpiricalStaticPrior | None:
    return _parsed(model, "empirical-static", EmpiricalStaticPrior.from_bytes)


def learned_prior(model: CodecModel) -> LearnedPrior | None:
    return _parsed(model, "learned", lambda blob: load_learned({"learned": blob}))


def rank_prior(model: CodecModel) -> RankPrior | None:
    """The rank prior over the model's bottom codebooks (its fallback: the model's static tables, else
    uniform), built once per model; None if its codewords are too large for it."""
    static = static_prior(model)
    hit = model.parsed_priors.get("rank")
    if hit is None or hit[0] is not static:
        try:
            prior = RankPrior.from_network(model.net, static)
        except EntropyError:
            prior = None
        hit = model.parsed_priors["rank"] = (static, prior)
    return hit[1]


def _rank_prior_or_error(model: CodecModel, error) -> RankPrior:
    prior = rank_prior(model)
    if prior is None:
        raise error("this model's codewords are too large for the rank prior")
    return prior


def _unusable(model: CodecModel, kind: str, e: Exception) -> WeightsError:
    """A prior of the weights file that does not parse: the error names the file."""
    where = f"{printable(model.path)}: " if model.path is not None else ""
    return WeightsError(one_line(f"{where}the model's {kind} prior is unusable: {e}"))


def decision_prior(model: CodecModel, kind: str) -> Prior:
    """The prior whose costs the encoder's decisions are made with: the one asked for, or (for
    ``auto``, ``empirical-adaptive``, which is fitted after the decisions, and ``rank``, whose tables
    follow the codes decided) the best the model ships: learned, else static, else uniform."""
    if kind == "uniform":
        return UniformPrior()
    if kind == "empirical-static":
        static = static_prior(model)
        if static is None:
            raise VqvError("this model ships no empirical-static prior")
        return static
    if kind == "learned":
        learned = learned_prior(model)
        if learned is None:
            raise VqvError("this model ships no learned prior (add one with `vqv train-prior`)")
        return learned
    if kind not in PRIOR_CHOICES:
        raise VqvError(f"unknown prior {kind!r} (choose from {', '.join(PRIOR_CHOICES)})")
    return learned_prior(model) or static_prior(model) or UniformPrior()


def candidate_priors(model: CodecModel, kind: str, gop_codes: list[Codes]) -> list[Prior]:
    """The priors to try for a file: the one asked for, or under ``auto`` every available one."""
    if kind == "empirical-adaptive":
        return [EmpiricalAdaptivePrior.fit(s for c in gop_codes for s in coded_symbols(c))]
    if kind == "rank":
        return [_rank_prior_or_error(model, VqvError)]
    if kind != "auto":
        return [decision_prior(model, kind)]
    static, learned = static_prior(model), learned_prior(model)
    # the rank prior codes bottom VQ codes only: without them (a scalar point) it is its fallback's tables
    ranked = rank_prior(model) if gop_codes and gop_codes[0].level("bottom").stages else None
    return [p for p in (UniformPrior(), static, EmpiricalAdaptivePrior.fit(s for c in gop_codes for s in coded_symbols(c)),
                        learned, ranked) if p is not None]


def file_prior(reader: VqvReader, model: CodecModel, layout: list[LevelLayout]) -> Prior:
    """The prior a file's header names, with its side information, checked against the layout."""
    h = reader.header
    streams = layout_streams(layout)
    if h.prior == "learned":
        if h.prior_params:
            raise EntropyError("learned prior takes no params")
        learned = learned_prior(model)
        if learned is None:
            raise VqvError("file uses the learned prior but the model ships none")
        learned.check_streams(streams)
        return learned
    if h.prior == "rank":
        if h.prior_params:
            raise EntropyError("rank prior takes no params")
        return _rank_prior_or_error(model, EntropyError)
    return prior_from_header(h.prior, h.prior_params, streams, static_prior(model))
