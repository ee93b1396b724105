"""The blob format of every serialised table, prior, pixel basis and ladder: msgpack in a zstd frame,
read back with bounded sizes.

Writers call :func:`zstd_compress` on ``msgpack.packb(body, use_bin_type=True)``; readers call
:func:`unpack_msgpack` on :func:`zstd_decompress`. Both are bounded before anything is allocated, so a
blob of N bytes costs O(N) memory plus a fixed bound, whatever it claims:

* :func:`zstd_decompress` refuses a frame without a content size, one larger than ``limit``, or one
  larger than :data:`MAX_RATIO` times its own size plus :data:`RATIO_ALLOWANCE` (every blob vqv
  writes inflates less than 5 times; a 2.6 KB "bomb" cannot claim 64 MiB), then inflates it with
  that output cap.
* :func:`unpack_msgpack` caps each array and map at :data:`MAX_MSGPACK_ITEMS` entries and all of them
  together at :data:`MAX_MSGPACK_TOTAL` (every blob vqv writes holds a few thousand: its tables are
  ``bin`` values), so 64 MiB of one-byte arrays cannot become gigabytes of Python objects.

Failures raise ``error`` (:class:`~vqcodec.entropy.rans.EntropyError` unless the caller reads model
data and passes :class:`~vqcodec.errors.ModelDataError`) with a one-line message.
"""
from __future__ import annotations

import msgpack
import zstandard

from vqcodec.entropy.rans import EntropyError

__all__ = [
    "MAX_BLOB",
    "MAX_MSGPACK_ITEMS",
    "MAX_MSGPACK_TOTAL",
    "MAX_RATIO",
    "RATIO_ALLOWANCE",
    "inflate_limit",
    "unpack_msgpack",
    "zstd_compress",
    "zstd_decompress",
]

MAX_BLOB = 64 << 20           # decompressed side-info / static-table blob
MAX_RATIO = 64                # decompressed / compressed size of any blob (vqv's own: < 5)
RATIO_ALLOWANCE = 1 << 20     # ... plus this much, so that small, very regular blobs always pass
MAX_MSGPACK_ITEMS = 1 << 16   # entries of one msgpack array or map (vqv's: <= 4096 streams)
MAX_MSGPACK_TOTAL = 1 << 18   # entries of all arrays and maps of one blob together
_ZSTD_LEVEL = 19


def zstd_compress(raw: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=_ZSTD_LEVEL, write_content_size=True,
                                    write_checksum=False).compress(raw)


def inflate_limit(compressed_size: int, limit: int = MAX_BLOB) -> int:
    """The most bytes a zstd frame of ``compressed_size`` bytes may inflate to (at most ``limit``)."""
    return min(limit, RATIO_ALLOWANCE + MAX_RATIO * compressed_size)


def zstd_decompress(data: bytes, what: str, limit: int = MAX_BLOB,
                    error: type[Exception] = EntropyError) -> bytes:
    try:
        size = zstandard.get_frame_parameters(data).content_size
    except zstandard.ZstdError:
        raise error(f"{what}: not a zstd frame") from None
    if not 0 <= size <= limit:
        raise error(f"{what}: missing or oversized content size")
    cap = inflate_limit(len(data), limit)
    if size > cap:
        raise error(f"{what}: a {len(data)}-byte zstd frame claims {size} bytes (more than {cap}: "
                    "damaged or hostile data)")
    dctx = zstandard.ZstdDecompressor()
    try:
        try:
            raw = dctx.decompress(data, max_output_size=cap, allow_extra_data=False)
        except TypeError:                            # zstandard < 0.23: no such argument
            raw = dctx.decompress(data, max_output_size=cap)
    except zstandard.ZstdError as e:
        raise error(f"{what}: corrupt zstd data ({e})".splitlines()[0]) from None
    if len(raw) != size:
        raise error(f"{what}: decompressed size mismatch")
    return raw


class _TooMany(Exception):
    pass


def unpack_msgpack(raw: bytes, what: str, error: type[Exception] = EntropyError):
    total = [0]

    def count(n: int) -> None:
        total[0] += n
        if total[0] > MAX_MSGPACK_TOTAL:
            raise _TooMany

    def on_list(items: list) -> list:
        count(len(items) + 1)
        return items

    def on_map(pairs: list) -> dict:
        count(len(pairs) + 1)
        return dict(pairs)

    try:
        return msgpack.unpackb(raw, raw=False, strict_map_key=True, use_list=True, list_hook=on_list,
                               object_pairs_hook=on_map, max_array_len=MAX_MSGPACK_ITEMS,
                               max_map_len=MAX_MSGPACK_ITEMS, max_ext_len=0)
    except _TooMany:
        raise error(f"{what}: more than {MAX_MSGPACK_TOTAL} msgpack entries (damaged or hostile data)") from None
    except Exception as e:  # noqa: BLE001 - msgpack raises many types on garbage
        raise error(f"{what}: corrupt msgpack ({type(e).__name__})") from None
