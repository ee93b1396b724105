"""Header key 23 (12.x and 13.x): the GOPs cut short at scene cuts, as ``(gop, frames)`` pairs, and the table a reader
looks each GOP's frames and first frame up in."""
from __future__ import annotations

import itertools

from .wire import int_pair

MAX_SHORT_GOPS = 1 << 20     # pairs in key 23


class ShortGops(tuple):
    """Key 23's ``(gop, frames)`` pairs, with the table a reader looks every GOP up in, made once (a reader asks
    for each GOP's frames and start; a hostile file may list hundreds of thousands)."""

    def table(self, gop_length: int) -> tuple[dict[int, int], list[int], list[int]]:
        """(frames by short GOP, the short GOPs in order, their running sum of missing frames)."""
        cached = self.__dict__.get("_table")
        if cached is None or cached[0] != gop_length:
            pairs = [p for p in self if isinstance(p, tuple) and len(p) == 2]
            cached = (gop_length, dict(pairs), [g for g, _ in pairs],
                      list(itertools.accumulate(gop_length - f for _, f in pairs)))
            self._table = cached
        return cached[1:]


def check_short_gops(pairs: object, gop_length: int, frame_count: int) -> tuple[tuple[int, int], ...]:
    """``pairs`` (the header's key 23) as a tuple of ``(gop, frames)``; raises ValueError (one line) unless it is a
    list of 1..2^20 int pairs, ``gop`` strictly increasing from 0, ``frames`` in 1..gop_length-1, every listed GOP
    before the last (frames left over for it)."""
    if not isinstance(pairs, (list, tuple)) or not 1 <= len(pairs) <= MAX_SHORT_GOPS:
        raise ValueError(f"must be a list of 1..{MAX_SHORT_GOPS} [gop, frames] pairs")
    out, last, listed = [], -1, 0
    for p in pairs:
        if int_pair(p) is None:
            raise ValueError(f"a pair must be [gop, frames], two ints, got {p!r}")
        g, f = int_pair(p)
        if g <= last or not 1 <= f < gop_length:
            raise ValueError(f"pair {[g, f]}: GOPs must increase and frames lie in 1..{gop_length - 1}")
        out.append((g, f))
        last, listed = g, listed + f
    rest = frame_count - listed - (last + 1 - len(out)) * gop_length    # frames after the last listed GOP
    if rest < 1:
        raise ValueError(f"GOP {last} is cut short but no frame is left after it (frame_count {frame_count})")
    return tuple(out)
