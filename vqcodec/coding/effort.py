"""How hard the encoder's motion decisions look (``vqv encode --preset``): a plain value the settings hold, with no
network behind it, so that building the settings (and ``vqv --help``) loads no torch."""
from __future__ import annotations

from typing import NamedTuple

#: The encoder prices a slice's blocks under at most this many conditional coders: those trained nearest the
#: slice's lambda (a coder trained far from it is rarely taken and costs an analysis and a synthesis).
#: ``--preset medium``'s count (``fast`` prices 2: :attr:`Effort.coders`).
PRICED_CODERS = 3


class Effort(NamedTuple):
    """How hard each slice's decision looks (``vqv encode --preset``; the files decode alike). ``second``:
    the slice is decided again where the coder's own vector predictions changed (:func:`~vqcodec.coding.gop_decisions.decide_gop`);
    ``bends_first``: bent paths are searched in the first decision too, else only in the second, which
    then always runs (a bent path needs one of the two) — where the second is of the whole slice, with the conditional
    coders; without them each block is decided once and every decision searches them; ``dead_zones``: the roundings of the coders'
    symbols priced besides the nearest (:meth:`~vqcodec.coding.conditional_coder.ConditionalCoder.symbols`)."""
    second: bool = True
    bends_first: bool = True
    dead_zones: tuple[float, ...] = (0.0, 0.15, 0.3)
    coders: int = PRICED_CODERS       # how many coders are priced: those trained nearest the slice's lambda
