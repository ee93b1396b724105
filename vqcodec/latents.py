"""Latents: a .vqv file's codes as the float latents the network's decoder consumes, one layout at every
quality (:func:`read_latents`).

Indices (:func:`vqcodec.read_codes`) change layout with the operating point: no bottom stages at the
lowest points, a scalar bottom latent (symbols x step) from the scalar points up, an enhancement layer
at the enhanced points. The latent view does not: per level, ``(gops, C, T, H, W)`` float32 with ``C``
the model's ``latent_dim`` whatever the quality (the sum of the kept residual stages' codebook
vectors, the scalar symbols times their step, zeros where a level keeps no stage). Files of one model
and one coded size therefore batch together whatever their quality.

Time: GOP ``g`` holds frames ``g*32 .. g*32+31``; slice ``t`` of a level covers that GOP's frames
``t*f .. t*f+f-1``, ``f`` the level's ``frames_per_slice`` (the bottom grid's time factor, times the
top stride for the top level). The last GOP is padded to 32 frames: ``frame_counts`` gives each GOP's
real frames and ``valid(level)`` the slices that hold at least one. Space: each latent position covers
``pixels_per_cell`` pixels of the coded frame padded up to the model's stride.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vqcodec.codes import Codes

#: what the axes of each exported array mean (``layout`` in the .npz of ``vqv latents``)
LAYOUT = {
    "<level>": "(gops, C, T, H, W) float32: the dequantised latent the decoder consumes",
    "<level>_copied": "(gops, T, H, W) bool: positions the encoder copied from the previous slice",
    "<level>_valid": "(gops, T) bool: slices holding at least one real frame (the last GOP is padded)",
    "frame_counts": "(gops,) int32: real frames per GOP",
    "coded_frames": "(gops,) int32: the frames each GOP's codes cover (fewer than a GOP's in a 13.x file's trimmed "
                    "GOPs, whose latents past them repeat their last slice; frames_from_latents takes it)",
    "enhancement": "(gops, K, T, H, W) float32: pixel-basis coefficients of each bottom-grid block, 8-bit "
                   "units (enhanced points only; added to the decoded pixels, not part of the latent)",
    "motion_predicted": "(gops, T, H, W) bool: blocks predicted from the previous frame (motion files)",
    "motion_vectors": "(gops, T, H, W, 2) int32: their (dy, dx) per frame in quarter pixels",
}


def _shape(a: np.ndarray | None) -> str:
    return "none" if a is None else "x".join(map(str, a.shape))


@dataclass(frozen=True, repr=False)
class LatentLevel:
    """One level's latents: ``latent`` float32 ``(gops, C, T, H, W)``, ``copied`` bool ``(gops, T, H, W)``;
    a latent slice covers ``frames_per_slice`` frames, a position ``pixels_per_cell`` (H, W) pixels."""

    name: str
    latent: np.ndarray
    copied: np.ndarray
    frames_per_slice: int
    pixels_per_cell: tuple[int, int]

    def __repr__(self) -> str:
        return (f"LatentLevel({self.name!r}, latent {_shape(self.latent)} (gops, C, T, H, W) float32, "
                f"{self.frames_per_slice} frames per slice, copied {100 * self.copied.mean():.1f}%)"
                if self.copied.size else f"LatentLevel({self.name!r}, latent {_shape(self.latent)})")


@dataclass(frozen=True, repr=False)
class Latents:
    """The latents of a .vqv file (:func:`read_latents`), coarsest level first."""

    levels: tuple[LatentLevel, ...]
    frame_counts: np.ndarray                # int32 (gops,): real frames per GOP
    gop_frames: int
    quality: int
    model: str                              # the model digest the file names (hex)
    coded_size: tuple[int, int]             # (width, height) of the coded frames
    fps: tuple[int, int]                    # (numerator, denominator)
    enhancement: np.ndarray | None = None   # float32 (gops, K, T, H, W) at an enhanced point
    motion_flags: np.ndarray | None = None  # bool (gops, T, H, W) in a file with the motion layer
    motion_vectors: np.ndarray | None = None
    network_float: str = "float32"          # what the file's networks compute in (frames_from_latents)
    coded_frames: np.ndarray | None = None  # int32 (gops,): the frames each GOP's codes cover (13.x: trimmed GOPs)

    def __len__(self) -> int:
        return len(self.frame_counts)

    @property
    def frames(self) -> int:
        """The file's real frame count (the padding of the last GOP excluded)."""
        return int(np.sum(self.frame_counts))

    def level(self, name: str) -> LatentLevel:
        for lv in self.levels:
            if lv.name == name:
                return lv
        raise KeyError(f"no level {name!r} (levels: {', '.join(lv.name for lv in self.levels)})")

    def __getitem__(self, name: str) -> np.ndarray:
        """``latents["bottom"]``: that level's latent array."""
        return self.level(name).latent

    def valid(self, name: str) -> np.ndarray:
        """bool (gops, T): the slices of level ``name`` that hold at least one real frame."""
        lv = self.level(name)
        t = lv.latent.shape[2]
        starts = np.arange(t) * lv.frames_per_slice
        return starts[None, :] < np.asarray(self.frame_counts)[:, None]

    def arrays(self) -> dict[str, np.ndarray]:
        """Every array by name (see :data:`LAYOUT`), as ``vqv latents`` writes them."""
        out: dict[str, np.ndarray] = {}
        for lv in self.levels:
            out[lv.name] = lv.latent
            out[f"{lv.name}_copied"] = lv.copied
            out[f"{lv.name}_valid"] = self.valid(lv.name)
        out["frame_counts"] = np.asarray(self.frame_counts, np.int32)
        if self.coded_frames is not None:
            out["coded_frames"] = np.asarray(self.coded_frames, np.int32)
        if self.enhancement is not None:
            out["enhancement"] = self.enhancement
        if self.motion_flags is not None:
            out["motion_predicted"] = self.motion_flags
            out["motion_vectors"] = self.motion_vectors
        return out

    def __repr__(self) -> str:
        w, h = self.coded_size
        parts = [f"{len(self)} GOPs, {self.frames} frames at {w}x{h}, quality {self.quality}",
                 ", ".join(f"{lv.name} {_shape(lv.latent)}" for lv in self.levels) + " (gops, C, T, H, W) float32"]
        if self.enhancement is not None:
            parts.append(f"enhancement {_shape(self.enhancement)}")
        if self.motion_flags is not None:
            parts.append(f"motion {100 * self.motion_flags.mean():.1f}% of blocks predicted")
        return f"Latents({'; '.join(parts)})"


def gop_latents(model, codes: Codes) -> dict[str, np.ndarray]:
    """One GOP's (or a batch's) codes -> ``{level: float32 (C, T, H, W)}`` (``(N, ...)`` for a batch),
    through :meth:`~vqcodec.net.model.MSVQVAE.dequantise`."""
    net = getattr(model, "net", model)
    lat = {k: v.cpu().numpy().astype(np.float32, copy=False) for k, v in net.dequantise(codes).items()}
    return lat if codes.batched else {k: v[0] for k, v in lat.items()}


def level_factors(cfg) -> dict[str, tuple[int, int, int]]:
    """Frames and pixels per latent position, ``(T, H, W)``, of each level of a model config."""
    bf = tuple(int(v) for v in cfg.bottom_factor)
    out = {"bottom": bf}
    if not cfg.single_level:
        out = {"top": tuple(int(a * b) for a, b in zip(bf, cfg.top_stride)), **out}
    return out


def latents_from_codes(model, gops: list[Codes], frame_counts: list[int], header) -> Latents:
    """The :class:`Latents` of a file's per-GOP codes (``header``: the file's header)."""
    factors = level_factors(model.cfg)
    per_gop = [gop_latents(model, c) for c in gops]
    levels = []
    for name, f in factors.items():
        lat = np.stack([g[name] for g in per_gop]) if per_gop else np.zeros((0, model.cfg.latent_dim, 0, 0, 0),
                                                                           np.float32)
        copied = np.stack([c.level(name).copy_map() for c in gops]) if gops else np.zeros((0, 0, 0, 0), bool)
        if name == "bottom" and gops and gops[0].scalar is not None:
            copied = np.stack([c.scalar.copy_map() for c in gops])
        levels.append(LatentLevel(name, lat, copied, f[0], (f[1], f[2])))
    enh = mflags = mvec = None
    if gops and gops[0].enhancement is not None:
        enh = np.stack([c.enhancement.latent() for c in gops])
    if gops and gops[0].motion is not None:
        mflags = np.stack([c.motion.flags for c in gops])
        mvec = np.stack([c.motion.vectors for c in gops]).astype(np.int32)
    return Latents(tuple(levels), np.asarray(frame_counts, np.int32), int(header.gop_length), int(header.quality),
                   header.model_digest.hex(), (int(header.coded_width), int(header.coded_height)),
                   (int(header.fps_num), int(header.fps_den)), enh, mflags, mvec, header.network_float,
                   np.array([header.gop_coded_frames(i) for i in range(len(gops))], np.int32))


def frames_from_latents(model, latents: dict[str, np.ndarray], enhancement: np.ndarray | None = None,
                        network_float: str = "float32", coded_frames: int | None = None,
                        model_digest: str | None = None) -> np.ndarray:
    """One GOP's latents ``{level: (C, T, H, W)}`` -> uint8 frames (T, padded H, padded W, 3): the
    network's decoder on them, plus the enhancement coefficients ``(K, T, H, W)`` where given. For a GOP
    without the motion layer these are the frames ``vqv decode`` writes (before cropping to the coded
    size and the real frame count); with it, the motion layer then predicts its flagged blocks from
    the frame before (:func:`vqcodec.coding.motion.apply_motion`). ``network_float``: the file's
    (:attr:`Latents.network_float`), for its frames as ``vqv decode`` makes them; ``coded_frames``: the GOP's
    (:attr:`Latents.coded_frames`): a trimmed GOP's latents are cut to the slices its codes cover first, as the
    decoder runs the network on those only. ``model_digest``: the file's (:attr:`Latents.model`): a file of the
    release before the model's light synthesis decodes with its decoder, as ``vqv decode`` does."""
    import torch

    if coded_frames is not None:
        per_slice = level_factors(model.cfg)
        latents = {k: v[:, :coded_frames // per_slice[k][0]] for k, v in latents.items()}
        if enhancement is not None:
            enhancement = enhancement[:, :coded_frames // per_slice["bottom"][0]]
    if model_digest is not None and hasattr(model, "for_digest"):
        model = model.for_digest(bytes.fromhex(model_digest)) or model
    net = model.computing_in(network_float).net if hasattr(model, "computing_in") else model
    frames = net.decode_latents({k: torch.from_numpy(np.ascontiguousarray(v)[None]) for k, v in latents.items()},
                                light=getattr(model, "light", True))[0]
    if enhancement is not None:
        from vqcodec.coding.gops import _pixel_basis
        frames = _pixel_basis(model).apply(frames, enhancement, 1.0)   # coefficients: symbols x step already
    return frames


def read_latents(path, model=None, *, model_path: str | Path | None = None) -> Latents:
    """The latents of a .vqv file (a path or a binary stream), no pixels decoded: per level the
    dequantised float32 latent the decoder consumes, ``(gops, C, T, H, W)`` with ``C`` fixed per model,
    the copy maps, the real frame count per GOP, and the enhancement coefficients and motion layer
    where the file has them. ``model``: a loaded :class:`~vqcodec.weights.CodecModel` (default: the
    shipped model that made the file, or ``model_path``)."""
    from vqcodec.pipeline import read_codes_with_model

    model, cf = read_codes_with_model(path, model_path, model=model)
    return latents_from_codes(model, cf.gops, cf.frame_counts, cf.header)


def export_latents(input, output: str | Path, *, model_path: str | Path | None = None,
                   overwrite: bool = True) -> dict:
    """``vqv latents``: the latents of a .vqv path or stream to an .npz (an existing one refused without
    ``overwrite``, written atomically), with ``layout`` (a JSON string: each array's axes) beside them."""
    import json

    from vqcodec.io.files import check_npz_output, save_npz
    from vqcodec.io.streams import display_name

    check_npz_output(output, overwrite, "latents")
    lat = read_latents(input, model_path=model_path)
    arrays = lat.arrays()
    layout = {k: LAYOUT.get(k) or LAYOUT[_generic(k)] for k in arrays}
    extra = {"fps": np.array(lat.fps, np.int64), "coded_size": np.array(lat.coded_size, np.int32),
             "quality": np.array(lat.quality, np.int32),
             "frames_per_slice": np.array([lv.frames_per_slice for lv in lat.levels], np.int32)}
    layout.update({"fps": "(2,) numerator, denominator", "coded_size": "(2,) width, height of the coded frames",
                   "quality": "() the file's quality",
                   "frames_per_slice": f"(levels,) frames per latent slice of {', '.join(lv.name for lv in lat.levels)}"})
    save_npz(output, {**arrays, **extra, "layout": np.array(json.dumps(layout))}, overwrite=overwrite)
    return {"output": display_name(output, "<stdout>"), "gops": len(lat), "frames": lat.frames, "model": lat.model,
            "quality": lat.quality, "arrays": {k: list(v.shape) for k, v in arrays.items()}, "layout": layout}


def _generic(name: str) -> str:
    level, _, suffix = name.rpartition("_")
    return f"<level>_{suffix}" if level and suffix in ("copied", "valid") else "<level>"
