"""The blob format of every serialised table, prior, pixel basis and ladder: msgpack in a zstd frame,
read back with bounded sizes.

Writers call :func:`zstd_compress` on ``msgpack.packb(body, use_bin_type=True)``; readers call
:func:`unpack_msgpack` on :func:`zstd_decompress`, which refuses a frame without a content size or one
larger than ``limit`` before decompressing it, so a hostile blob cannot make the reader allocate more
than that. Failures raise ``error`` (:class:`~vqcodec.entropy.rans.EntropyError` unless the caller
reads model data and passes :class:`~vqcodec.errors.ModelDataError`) with a one-line message.
"""
from __future__ import annotations

import msgpack
import zstandard

from vqcodec.entropy.rans import EntropyError

__all__ = ["MAX_BLOB", "zstd_compress", "zstd_decompress", "unpack_msgpack"]

MAX_BLOB = 64 << 20           # decompressed side-info / static-table blob
_ZSTD_LEVEL = 19


def zstd_compress(raw: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=_ZSTD_LEVEL, write_content_size=True,
                                    write_checksum=False).compress(raw)


def zstd_decompress(data: bytes, what: str, limit: int = MAX_BLOB,
                    error: type[Exception] = EntropyError) -> bytes:
    try:
        size = zstandard.get_frame_parameters(data).content_size
    except zstandard.ZstdError:
        raise error(f"{what}: not a zstd frame") from None
    if not 0 <= size <= limit:
        raise error(f"{what}: missing or oversized content size")
    dctx = zstandard.ZstdDecompressor()
    try:
        try:
            raw = dctx.decompress(data, allow_extra_data=False)
        except TypeError:                            # zstandard < 0.23: no such argument
            raw = dctx.decompress(data)
    except zstandard.ZstdError as e:
        raise error(f"{what}: corrupt zstd data ({e})".splitlines()[0]) from None
    if len(raw) != size:
        raise error(f"{what}: decompressed size mismatch")
    return raw


def unpack_msgpack(raw: bytes, what: str, error: type[Exception] = EntropyError):
    try:
        return msgpack.unpackb(raw, raw=False, strict_map_key=True, use_list=True)
    except Exception as e:                           # msgpack raises many types on garbage
        raise error(f"{what}: corrupt msgpack ({type(e).__name__})") from None
