"""vqv: a neural video codec (multi-scale space-time VQ-VAE + rANS bitstream).

Python API::

    from vqcodec import load_model, read_codes, encode_frames, decode_bytes
    codes = read_codes("clip.vqv")          # code indices per GOP and level, no pixels decoded
    codes.level("bottom").shape             # (gops, stages, T, H, W)
"""
from __future__ import annotations

#: The one place the version is written: pyproject.toml reads it (``[tool.setuptools.dynamic]``) and
#: ``vqv --version`` prints it. Release 0.7 is in progress (CHANGELOG.md).
__version__ = "0.7.0.dev0"

__all__ = ["load_model", "read_codes", "encode_frames", "decode_bytes", "Codes", "CodeLevel", "ScalarCodes", "__version__"]


def __getattr__(name: str):
    # Lazy: `import vqcodec` stays light (no torch) for users of vqcodec.formats alone.
    if name == "load_model":
        from vqcodec.weights import load_model
        return load_model
    if name == "read_codes":
        from vqcodec.pipeline import read_codes
        return read_codes
    if name in ("encode_frames", "decode_bytes"):
        from vqcodec.coding import decoder, encoder
        return getattr(encoder if name == "encode_frames" else decoder, name)
    if name in ("Codes", "CodeLevel", "ScalarCodes"):
        from vqcodec import codes
        return getattr(codes, name)
    raise AttributeError(name)
