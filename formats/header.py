"""The .vqv header: a msgpack map with small integer keys, to bytes and back (no framing here)."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

import msgpack
import zstandard

from .errors import VqvFormatError
from .sections import check_sections
from .short_gops import ShortGops, check_short_gops
from .wire import MAX_PRIOR_PARAMS_BYTES, coerce_bool, coerce_int, int_pair, is_int

PRIOR_KINDS: tuple[str, ...] = ("uniform", "empirical-static", "empirical-adaptive", "learned", "rank")
RANK_PRIOR_ID = 4                 # "rank": a prior of version 6.x files only

# msgpack map keys (see SPEC.md, "Header map"). Never renumber; new keys get new numbers.
K_MODEL_DIGEST = 0
K_SOURCE_WIDTH = 1
K_SOURCE_HEIGHT = 2
K_CODED_WIDTH = 3
K_CODED_HEIGHT = 4
K_FPS_NUM = 5
K_FPS_DEN = 6
K_FRAME_COUNT = 7
K_GOP_LENGTH = 8
K_QUALITY = 9
K_PRIOR = 10
K_PRIOR_PARAMS = 11  # raw bytes
K_PRIOR_PARAMS_ZSTD = 12  # the same bytes as one zstd frame (used only when smaller)
K_GOP_PREDICTION = 13  # "GOP context" in 1.x: the same flag
K_COPY_MODE = 14
K_REFRESH_INTERVAL = 15
KNOWN_KEYS = frozenset(range(16))
# version 4.x only (in 1.x-3.x files these keys are unknown keys, kept in `extra`)
K_MOTION_LAYER = 16  # the payloads end with the motion layer (3.x: always; 2.x: never)
K_SECTIONS = 17  # [kind, size] of each section after the last GOP chunk (sections.py)
KNOWN_KEYS_V4 = frozenset(range(18))
# version 5.x only (in 1.x-4.x files this key is an unknown key, kept in `extra`); 16 and 17 as in 4.x
K_MOTION_RESIDUAL = 18  # [first, count] pairs: what of the motion layer carries a residual (5.x payloads)
KNOWN_KEYS_V5 = frozenset(range(19))
# version 7.x only (an unknown key before); 16 to 18 as in 6.x
K_MOTION_BENDS = 19  # the motion layer's predicted blocks carry bent paths (7.x payloads; required, true)
KNOWN_KEYS_V7 = frozenset(range(20))
# version 8.x only (an unknown key before); 16 to 19 as in 7.x (19 optional there)
K_CONDITIONAL_CODER = 20  # the conditional coders' file: the first bytes of its SHA-256 (8.x payloads; required)
KNOWN_KEYS_V8 = frozenset(range(21))
# version 10.x only (unknown keys before); 16 to 20 as in 8.x (20 optional)
K_NETWORK_FLOAT = 21  # what the networks compute in: 1 = bfloat16 (required in 10.x; in 11.x absent = float32)
K_INTRA_CODER = 22  # the refresh GOPs' first slices' blocks may take a conditional coder (9.x: always, with 20)
KNOWN_KEYS_V10 = frozenset(range(23))
# version 12.x only (unknown keys before); 16 to 22 as in 11.x
K_SHORT_GOPS = 23  # [gop, frames] of each GOP cut short at a scene cut (required in 12.x)
K_SCALAR_CONTEXT = 24  # the scalar layer's refresh first slices in two passes (11.x: always; 12.x: this key true)
KNOWN_KEYS_V12 = frozenset(range(25))
K_GOP_TRIM = 25  # a GOP of fewer than gop_length frames is coded over whole groups of this many (required in 13.x)
KNOWN_KEYS_V13 = frozenset(range(26))
NETWORK_FLOATS: tuple[str, ...] = ("float32", "bfloat16")   # key 21's values index this
MAX_RESIDUAL_PAIRS = 15
MAX_RESIDUAL_FIRST = 255
MAX_RESIDUAL_COUNT = 8
RESIDUAL_END = 256  # first + count is at most this

DEFAULT_FPS_NUM = 30
DEFAULT_FPS_DEN = 1
DEFAULT_GOP_LENGTH = 32
ZSTD_LEVEL = 19

_U16_MAX = 0xFFFF
_U32_MAX = 0xFFFFFFFF
_I32_MIN, _I32_MAX = -(1 << 31), (1 << 31) - 1


@dataclass
class Header:
    """Stream-level parameters of a .vqv file (see SPEC.md for the byte encoding)."""

    model_digest: bytes  # first 8 bytes of the SHA-256 of the weights file (1..32 bytes accepted)
    source_width: int
    source_height: int
    coded_width: int
    coded_height: int
    fps_num: int = DEFAULT_FPS_NUM
    fps_den: int = DEFAULT_FPS_DEN
    frame_count: int = 0
    gop_length: int = DEFAULT_GOP_LENGTH
    quality: int = 0
    prior: str = "uniform"
    prior_params: bytes = b""
    gop_prediction: bool = False  # some GOP is predicted from the previous GOP's codes
    copy_mode: bool = False  # chunk payloads carry per-position copy decisions (2.x only)
    refresh_interval: int = 0  # informational: the encoder's --refresh N (0 = only GOP 0 is a refresh point)
    motion_layer: bool = False  # 4.x: the payloads end with the motion layer (a 3.x file always has it)
    sections: tuple = ()  # 4.x: (kind, size) of each section, in file order (the writer fills it in)
    motion_residual: tuple = ()  # 5.x: (first, count) pairs, key 18; empty = absent (every other version)
    motion_bends: bool = False  # 7.x: the motion layer's predicted blocks carry bent paths (key 19, always true there)
    conditional_coder: bytes = b""  # 8.x: the conditional coders' file, SHA-256 prefix (key 20); empty = absent
    network_float: str = "float32"  # 10.x: "bfloat16" (key 21); float32 in every other version
    intra_coder: bool = False  # 10.x: the first slices' blocks may take a conditional coder (key 22; 9.x: implied)
    short_gops: tuple = ()  # 12.x: (gop, frames) of each GOP before the last with fewer than gop_length frames (key 23)
    scalar_context: bool = False  # 12.x: the scalar layer's refresh first slices in two passes (key 24; 11.x: implied)
    gop_trim: int = 0  # 13.x: a GOP of fewer than gop_length frames is coded over whole groups of this many (key 25)
    extra: dict = field(default_factory=dict)  # unknown/future keys (int or str), kept on round trip

    def __post_init__(self) -> None:
        for name in ("source_width", "source_height", "coded_width", "coded_height", "fps_num",
                     "fps_den", "frame_count", "gop_length", "quality", "refresh_interval", "gop_trim"):
            setattr(self, name, coerce_int(getattr(self, name)))
        self.gop_prediction = coerce_bool(self.gop_prediction)
        self.copy_mode = coerce_bool(self.copy_mode)
        self.motion_layer = coerce_bool(self.motion_layer)
        self.motion_bends = coerce_bool(self.motion_bends)
        self.intra_coder = coerce_bool(self.intra_coder)
        self.scalar_context = coerce_bool(self.scalar_context)
        if isinstance(self.short_gops, (list, tuple)):
            self.short_gops = ShortGops(tuple(coerce_int(v) for v in p) if isinstance(p, (list, tuple)) else p
                                        for p in self.short_gops)
        if isinstance(self.sections, list):
            self.sections = tuple(tuple(s) if isinstance(s, list) else s for s in self.sections)
        if isinstance(self.motion_residual, (list, tuple)):
            self.motion_residual = tuple(tuple(coerce_int(v) for v in p) if isinstance(p, (list, tuple)) else p
                                         for p in self.motion_residual)
        if isinstance(self.model_digest, (bytearray, memoryview)):
            self.model_digest = bytes(self.model_digest)
        if isinstance(self.conditional_coder, (bytearray, memoryview)):
            self.conditional_coder = bytes(self.conditional_coder)
        if isinstance(self.prior_params, (bytearray, memoryview)):
            self.prior_params = bytes(self.prior_params)

    @property
    def gop_count(self) -> int:
        """Number of GOP chunks the file holds: ceil(frame_count / gop_length), plus one per GOP cut short."""
        n, (_, _, missing) = len(self.short_gops), self._short_table()
        listed = n * self.gop_length - missing[-1] if n else 0
        return n + -(-max(0, self.frame_count - listed) // self.gop_length)

    def gop_frames(self, i: int) -> int:
        """The frames of GOP ``i``: ``gop_length``, fewer for a GOP cut short (key 23), the rest for the last."""
        short, _, _ = self._short_table()
        if i in short:
            return short[i]
        n = self.gop_count
        return self.gop_length if i < n - 1 else self.frame_count - self.gop_start(n - 1)

    def gop_coded_frames(self, i: int) -> int:
        """The frames GOP ``i``'s codes cover: ``gop_length``, or in a 13.x file (key 25) a GOP of fewer frames
        rounded up to whole groups of ``gop_trim`` (the frames past its own repeat its last)."""
        if not self.gop_trim:
            return self.gop_length
        return min(self.gop_length, -(-self.gop_frames(i) // self.gop_trim) * self.gop_trim)

    def gop_start(self, i: int) -> int:
        """The index of GOP ``i``'s first frame."""
        _, gops, deficits = self._short_table()
        k = bisect.bisect_left(gops, i)          # the GOPs cut short before GOP i
        return i * self.gop_length - (deficits[k - 1] if k else 0)

    def _short_table(self) -> tuple[dict[int, int], list[int], list[int]]:
        sg = self.short_gops if isinstance(self.short_gops, ShortGops) else ShortGops(self.short_gops)
        return sg.table(self.gop_length)



def check_motion_residual(pairs: object) -> tuple[tuple[int, int], ...]:
    """``pairs`` (the header's key 18) as a tuple of ``(first, count)``; raises ValueError (one line) when it
    is not a list of 1..15 int pairs with 0 <= first <= 255, 1 <= count <= 8 and first + count <= 256."""
    if not isinstance(pairs, (list, tuple)) or not 1 <= len(pairs) <= MAX_RESIDUAL_PAIRS:
        raise ValueError(f"must be a list of 1..{MAX_RESIDUAL_PAIRS} [first, count] pairs")
    out = []
    for p in pairs:
        if int_pair(p) is None:
            raise ValueError(f"a pair must be [first, count], two ints, got {p!r}")
        first, count = int_pair(p)
        if not (0 <= first <= MAX_RESIDUAL_FIRST and 1 <= count <= MAX_RESIDUAL_COUNT
                and first + count <= RESIDUAL_END):
            raise ValueError(f"pair [{first}, {count}] out of range (0 <= first <= {MAX_RESIDUAL_FIRST}, "
                             f"1 <= count <= {MAX_RESIDUAL_COUNT}, first + count <= {RESIDUAL_END})")
        out.append((first, count))
    return tuple(out)


def _check_extra_keys(h: Header) -> None:
    if not isinstance(h.extra, dict):
        raise ValueError("extra must be a dict")
    known = KNOWN_KEYS_V13 if h.gop_trim else KNOWN_KEYS_V12 if h.short_gops or h.scalar_context \
        else KNOWN_KEYS_V10 if h.network_float != "float32" or h.intra_coder \
        else KNOWN_KEYS_V8 if h.conditional_coder else KNOWN_KEYS_V7 if h.motion_bends \
        else KNOWN_KEYS_V5 if h.motion_residual \
        else KNOWN_KEYS_V4 if h.motion_layer or h.sections else KNOWN_KEYS
    for k in h.extra:
        if is_int(k):
            if k in known:
                raise ValueError(f"extra key {k} collides with a defined header key")
            if not -(1 << 63) <= k < 1 << 64:
                raise ValueError(f"extra key {k} out of msgpack int range")
        elif not isinstance(k, str):
            raise ValueError(f"extra keys must be int or str, got {k!r}")


def validate_header(h: Header) -> None:
    """Raise ValueError/TypeError if ``h`` cannot be written (or was read with impossible values)."""
    if not isinstance(h, Header):
        raise TypeError(f"expected Header, got {type(h).__name__}")
    if not isinstance(h.model_digest, bytes) or not 1 <= len(h.model_digest) <= 32:
        raise ValueError("model_digest must be 1..32 bytes (normally 8)")
    for name in ("source_width", "source_height", "coded_width", "coded_height"):
        v = getattr(h, name)
        if not is_int(v) or not 1 <= v <= _U16_MAX:
            raise ValueError(f"{name} must be an int in 1..65535, got {v!r}")
    for name, lo, hi in (
        ("fps_num", 1, _U32_MAX),
        ("fps_den", 1, _U32_MAX),
        ("frame_count", 0, _U32_MAX),
        ("gop_length", 1, _U16_MAX),
        ("quality", _I32_MIN, _I32_MAX),
        ("refresh_interval", 0, _U32_MAX),
        ("gop_trim", 0, _U16_MAX),
    ):
        v = getattr(h, name)
        if not is_int(v) or not lo <= v <= hi:
            raise ValueError(f"{name} must be an int in {lo}..{hi}, got {v!r}")
    if h.prior not in PRIOR_KINDS:
        raise ValueError(f"prior must be one of {PRIOR_KINDS}, got {h.prior!r}")
    if not isinstance(h.prior_params, bytes) or len(h.prior_params) > MAX_PRIOR_PARAMS_BYTES:
        raise ValueError(f"prior_params must be bytes of at most {MAX_PRIOR_PARAMS_BYTES} bytes")
    for name in ("gop_prediction", "copy_mode", "motion_layer", "motion_bends", "intra_coder"):
        v = getattr(h, name)
        if not isinstance(v, bool):
            raise ValueError(f"{name} must be a bool, got {v!r}")
    check_sections(h.sections)
    if h.motion_residual != ():
        try:
            check_motion_residual(h.motion_residual)
        except ValueError as e:
            raise ValueError(f"motion_residual (header key 18): {e}") from None
        if not (h.motion_layer and h.copy_mode):
            raise ValueError("motion_residual (header key 18) needs motion_layer and copy_mode")
    if h.motion_bends and not (h.motion_layer and h.copy_mode):
        raise ValueError("motion_bends (header key 19) needs motion_layer and copy_mode")
    if not isinstance(h.conditional_coder, bytes) or len(h.conditional_coder) > 32:
        raise ValueError("conditional_coder must be 0..32 bytes (normally 8)")
    if h.conditional_coder and not h.motion_residual:
        raise ValueError("conditional_coder (header key 20) needs motion_residual (key 18)")
    if h.network_float not in NETWORK_FLOATS:
        raise ValueError(f"network_float must be one of {NETWORK_FLOATS}, got {h.network_float!r}")
    if h.intra_coder and not h.conditional_coder:
        raise ValueError("intra_coder (header key 22) needs conditional_coder (key 20)")
    if h.short_gops != ():
        try:
            check_short_gops(h.short_gops, h.gop_length, h.frame_count)
        except ValueError as e:
            raise ValueError(f"short_gops (header key 23): {e}") from None
    if not isinstance(h.scalar_context, bool):
        raise ValueError(f"scalar_context must be a bool, got {h.scalar_context!r}")
    if h.gop_trim > h.gop_length:
        raise ValueError(f"gop_trim (header key 25) must lie in 1..gop_length ({h.gop_length}), got {h.gop_trim}")
    _check_extra_keys(h)


def _compress(raw: bytes) -> bytes:
    cctx = zstandard.ZstdCompressor(
        level=ZSTD_LEVEL, write_checksum=False, write_content_size=True, write_dict_id=False
    )
    return cctx.compress(raw)


def encode_header(h: Header) -> bytes:
    """The header's msgpack map bytes; keys ascending, then ``extra``; default values omitted."""
    validate_header(h)
    m: dict[Any, Any] = {K_MODEL_DIGEST: h.model_digest, K_SOURCE_WIDTH: h.source_width,
                         K_SOURCE_HEIGHT: h.source_height}
    if h.coded_width != h.source_width:
        m[K_CODED_WIDTH] = h.coded_width
    if h.coded_height != h.source_height:
        m[K_CODED_HEIGHT] = h.coded_height
    if h.fps_num != DEFAULT_FPS_NUM:
        m[K_FPS_NUM] = h.fps_num
    if h.fps_den != DEFAULT_FPS_DEN:
        m[K_FPS_DEN] = h.fps_den
    if h.frame_count != 0:
        m[K_FRAME_COUNT] = h.frame_count
    if h.gop_length != DEFAULT_GOP_LENGTH:
        m[K_GOP_LENGTH] = h.gop_length
    if h.quality != 0:
        m[K_QUALITY] = h.quality
    if h.prior != PRIOR_KINDS[0]:
        m[K_PRIOR] = PRIOR_KINDS.index(h.prior)
    if h.prior_params:
        packed = _compress(h.prior_params)
        if len(packed) < len(h.prior_params):
            m[K_PRIOR_PARAMS_ZSTD] = packed
        else:
            m[K_PRIOR_PARAMS] = h.prior_params
    if h.gop_prediction:
        m[K_GOP_PREDICTION] = True
    if h.copy_mode:
        m[K_COPY_MODE] = True
    if h.refresh_interval != 0:
        m[K_REFRESH_INTERVAL] = h.refresh_interval
    if h.motion_layer:
        m[K_MOTION_LAYER] = True
    if h.sections:
        m[K_SECTIONS] = [list(s) for s in h.sections]
    if h.motion_residual:
        m[K_MOTION_RESIDUAL] = [list(p) for p in h.motion_residual]
    if h.motion_bends:
        m[K_MOTION_BENDS] = True
    if h.conditional_coder:
        m[K_CONDITIONAL_CODER] = h.conditional_coder
    if h.network_float != "float32":
        m[K_NETWORK_FLOAT] = NETWORK_FLOATS.index(h.network_float)
    if h.intra_coder:
        m[K_INTRA_CODER] = True
    if h.short_gops:
        m[K_SHORT_GOPS] = [list(p) for p in h.short_gops]
    if h.scalar_context:
        m[K_SCALAR_CONTEXT] = True
    if h.gop_trim:
        m[K_GOP_TRIM] = h.gop_trim
    m.update(h.extra)
    try:
        return msgpack.packb(m, use_bin_type=True)
    except (TypeError, ValueError, OverflowError) as e:
        raise ValueError(f"header extra value cannot be encoded as msgpack: {e}") from None


def _pairs_to_dict(pairs: list) -> dict:
    d: dict = {}
    for k, v in pairs:
        if k in d:
            raise VqvFormatError(f"duplicate msgpack map key {k!r}")
        d[k] = v
    return d


def _decompress(packed: bytes) -> bytes:
    try:
        size = zstandard.frame_content_size(packed)
    except zstandard.ZstdError as e:
        raise VqvFormatError(f"header prior_params: bad zstd frame ({e})") from None
    if size < 0:
        raise VqvFormatError("header prior_params: zstd frame without content size")
    if size > MAX_PRIOR_PARAMS_BYTES:
        raise VqvFormatError(f"header prior_params: {size} bytes exceeds limit {MAX_PRIOR_PARAMS_BYTES}")
    try:
        raw = zstandard.ZstdDecompressor().decompress(packed, max_output_size=MAX_PRIOR_PARAMS_BYTES)
    except zstandard.ZstdError as e:
        raise VqvFormatError(f"header prior_params: zstd decompression failed ({e})") from None
    if len(raw) != size:
        raise VqvFormatError("header prior_params: zstd size mismatch")
    return raw


_INT_FIELDS = {
    K_SOURCE_WIDTH: "source_width",
    K_SOURCE_HEIGHT: "source_height",
    K_CODED_WIDTH: "coded_width",
    K_CODED_HEIGHT: "coded_height",
    K_FPS_NUM: "fps_num",
    K_FPS_DEN: "fps_den",
    K_FRAME_COUNT: "frame_count",
    K_GOP_LENGTH: "gop_length",
    K_QUALITY: "quality",
    K_REFRESH_INTERVAL: "refresh_interval",
    K_GOP_TRIM: "gop_trim",
}
_BOOL_FIELDS = {K_GOP_PREDICTION: "gop_prediction", K_COPY_MODE: "copy_mode", K_MOTION_LAYER: "motion_layer",
                K_MOTION_BENDS: "motion_bends", K_INTRA_CODER: "intra_coder", K_SCALAR_CONTEXT: "scalar_context"}


def _check_required_keys(major: int, kw: dict) -> None:
    """The keys a header of version ``major``.x must have (5.x: 18; 7.x: 19, true; 8.x and 9.x: 20; 10.x: 21,
    bfloat16; 11.x: none of these)."""
    if major == 5 and "motion_residual" not in kw:
        raise VqvFormatError(f"a version {major}.x header needs key 18 (motion_residual)")
    if major == 7 and kw.get("motion_bends") is not True:
        raise VqvFormatError(f"a version {major}.x header needs key 19 (motion_bends) true")
    if major in (8, 9) and "conditional_coder" not in kw:
        raise VqvFormatError(f"a version {major}.x header needs key 20 (conditional_coder)")
    if major == 10 and kw.get("network_float") != "bfloat16":
        raise VqvFormatError(f"a version {major}.x header needs key 21 (network_float) = 1 (bfloat16)")
    if major == 12 and "short_gops" not in kw:
        raise VqvFormatError(f"a version {major}.x header needs key 23 (short_gops)")
    if major == 13 and not kw.get("gop_trim"):
        raise VqvFormatError(f"a version {major}.x header needs key 25 (gop_trim), at least 1")


def _structured_field(k: int, v: Any) -> dict[str, Any]:
    """A known key of keys 17 to 23 (not a plain int or bool) as the Header field it sets; raises VqvFormatError."""
    if k == K_SECTIONS:
        try:
            return {"sections": check_sections(v)}
        except ValueError as e:
            raise VqvFormatError(f"header key 17 (sections): {e}") from None
    if k == K_CONDITIONAL_CODER:
        if not isinstance(v, bytes) or not 1 <= len(v) <= 32:
            raise VqvFormatError("header key 20 (conditional_coder) must be 1..32 bytes")
        return {"conditional_coder": v}
    if k == K_NETWORK_FLOAT:
        if not is_int(v) or not 1 <= v < len(NETWORK_FLOATS):
            raise VqvFormatError(f"header key 21 (network_float): unknown value {v!r} (1: bfloat16)")
        return {"network_float": NETWORK_FLOATS[v]}
    if k == K_MOTION_RESIDUAL:
        try:
            return {"motion_residual": check_motion_residual(v)}
        except ValueError as e:
            raise VqvFormatError(f"header key 18 (motion_residual): {e}") from None
    if k == K_SHORT_GOPS:
        if not isinstance(v, list):
            raise VqvFormatError("header key 23 (short_gops) must be a list of [gop, frames] pairs")
        return {"short_gops": v}     # checked with frame_count and gop_length by validate_header
    raise AssertionError(f"header key {k} has no parser")


def decode_header(data: bytes, major: int = 2) -> Header:
    """Parse the header map bytes of a file of version ``major``.x; unknown keys go to ``extra``
    (keys 16 and 17 are known from version 4 on, key 18 from version 5 on, key 19 from version 7 on, key 20
    from version 8 on, keys 21 and 22 from version 10 on; a 5.x header must have key 18, a 7.x header key 19
    true, an 8.x or 9.x header key 20, a 10.x header key 21; prior 4, rank, is a prior of 6.x and later).
    Raises VqvFormatError."""
    try:
        m = msgpack.unpackb(
            data, raw=False, strict_map_key=False, use_list=True, object_pairs_hook=_pairs_to_dict
        )
    except VqvFormatError:
        raise
    except Exception as e:  # msgpack raises many types (ExtraData, FormatError, ValueError, ...)
        raise VqvFormatError(f"malformed header map: {type(e).__name__}: {e}") from None
    if not isinstance(m, dict):
        raise VqvFormatError(f"header is a msgpack {type(m).__name__}, not a map")
    for req, name in ((K_MODEL_DIGEST, "model_digest"), (K_SOURCE_WIDTH, "source_width"),
                      (K_SOURCE_HEIGHT, "source_height")):
        if req not in m:
            raise VqvFormatError(f"header lacks required key {req} ({name})")
    kw: dict[str, Any] = {"extra": {}}
    known = KNOWN_KEYS_V13 if major >= 13 else KNOWN_KEYS_V12 if major >= 12 else KNOWN_KEYS_V10 if major >= 10 else KNOWN_KEYS_V8 if major >= 8 else KNOWN_KEYS_V7 if major >= 7 else KNOWN_KEYS_V5 if major >= 5 else KNOWN_KEYS_V4 if major >= 4 \
        else KNOWN_KEYS
    for k, v in m.items():
        if is_int(k) and k in known:
            if k in _INT_FIELDS:
                if not is_int(v):
                    raise VqvFormatError(f"header key {k} ({_INT_FIELDS[k]}) must be an int")
                kw[_INT_FIELDS[k]] = v
            elif k == K_MODEL_DIGEST:
                if not isinstance(v, bytes):
                    raise VqvFormatError("header key 0 (model_digest) must be bytes")
                kw["model_digest"] = v
            elif k == K_PRIOR:
                if not is_int(v) or not 0 <= v < len(PRIOR_KINDS):
                    raise VqvFormatError(f"header key 10: unknown prior kind {v!r}")
                if v == RANK_PRIOR_ID and major < 6:
                    raise VqvFormatError(f"header key 10: prior 4 (rank) in a version {major}.x file (6.x and later only)")
                kw["prior"] = PRIOR_KINDS[v]
            elif k in (K_PRIOR_PARAMS, K_PRIOR_PARAMS_ZSTD):
                if not isinstance(v, bytes):
                    raise VqvFormatError(f"header key {k} (prior_params) must be bytes")
                if K_PRIOR_PARAMS in m and K_PRIOR_PARAMS_ZSTD in m:
                    raise VqvFormatError("header has both raw and zstd prior_params (keys 11 and 12)")
                kw["prior_params"] = v if k == K_PRIOR_PARAMS else _decompress(v)
            elif k in _BOOL_FIELDS:
                if not isinstance(v, bool):
                    raise VqvFormatError(f"header key {k} ({_BOOL_FIELDS[k]}) must be a bool")
                kw[_BOOL_FIELDS[k]] = v
            else:
                kw.update(_structured_field(k, v))
        elif is_int(k) or isinstance(k, str):
            kw["extra"][k] = v
        else:
            raise VqvFormatError(f"header key {k!r} is neither int nor str")
    _check_required_keys(major, kw)
    kw.setdefault("coded_width", kw["source_width"])
    kw.setdefault("coded_height", kw["source_height"])
    h = Header(**kw)
    try:
        validate_header(h)
    except (ValueError, TypeError) as e:
        raise VqvFormatError(f"invalid header: {e}") from None
    return h
