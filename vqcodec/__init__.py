"""vqv: a neural video codec (multi-scale space-time VQ-VAE + rANS bitstream).

Python API::

    from vqcodec import load_model, read_codes, read_latents, encode_frames, decode_bytes
    codes = read_codes("clip.vqv")          # code indices per GOP and level, no pixels decoded
    codes.level("bottom").shape             # (gops, stages, T, H, W): stages vary with the quality
    lat = read_latents("clip.vqv")          # the float latents the decoder consumes
    lat["bottom"].shape                     # (gops, C, T, H, W): the same C at every quality
    ds = VqvDataset("folder/")              # a torch Dataset: one GOP per item (vqcodec.dataset)
"""
from __future__ import annotations

#: The one place the version is written: pyproject.toml reads it (``[tool.setuptools.dynamic]``) and
#: ``vqv --version`` prints it. Release 0.7 is in progress (CHANGELOG.md).
__version__ = "0.7.0.dev0"

__all__ = ["load_model", "read_codes", "read_latents", "encode_frames", "decode_bytes", "encode_dataset", "Codes",
           "CodeLevel", "ScalarCodes", "MotionField", "Latents", "VqvDataset", "__version__"]


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
    if name in ("read_latents", "Latents"):
        from vqcodec import latents
        return getattr(latents, name)
    if name == "VqvDataset":
        from vqcodec.dataset import VqvDataset
        return VqvDataset
    if name == "encode_dataset":
        from vqcodec.batch import encode_dataset
        return encode_dataset
    if name in ("Codes", "CodeLevel", "ScalarCodes", "MotionField"):
        from vqcodec import codes
        return getattr(codes, name)
    raise AttributeError(name)
