"""A PyTorch dataset over .vqv files: one item is one GOP (32 frames) of one file, read at random
through the file's index, as latents, codes or decoded frames.

::

    from torch.utils.data import DataLoader
    from vqcodec.dataset import VqvDataset

    ds = VqvDataset("ucf101_vqv/", kind="latents", labels="folder")   # a folder, a glob or a manifest
    for batch in DataLoader(ds, batch_size=16, shuffle=True, num_workers=4):
        batch["bottom"]      # float32 (16, C, T, H, W): the same C at every quality of one model
        batch["valid"]       # bool (16, T): bottom slices holding real frames (the last GOP is padded)
        batch["label"]       # int64 (16,): index into ds.classes (the parent folder's name)

Nothing unpicklable is held: files are opened per item, and the model is loaded lazily in each worker
(dropped when the dataset is pickled, loaded again from its path), so ``DataLoader(num_workers>0)``
works with both fork and spawn. Latents of one model and one coded size batch together whatever the
files' qualities; codes (indices) change layout with the quality and batch only within one quality.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from vqcodec.errors import VqvError
from vqcodec.file_sets import list_files
from vqcodec.formats import VqvReader

KINDS = ("latents", "codes", "frames")


class VqvDataset(Dataset):
    """GOPs of the .vqv files of ``source`` (a folder, a glob pattern, a manifest: see
    :func:`vqcodec.file_sets.list_files`).

    ``kind``: ``"latents"`` (per level the float32 latent ``(C, T, H, W)``, see :mod:`vqcodec.latents`),
    ``"codes"`` (per level the indices ``(stages, T, H, W)`` int64, and ``bottom_scalar`` at a scalar
    point) or ``"frames"`` (uint8 ``(32, H, W, 3)`` at the coded size, what ``vqv decode`` gives, the
    padded frames of the last GOP included). Every item also has ``valid`` (bool: per bottom slice, or
    per frame for ``"frames"``), ``frame_count`` (real frames in the GOP), ``file`` (index into
    :attr:`files`) and ``gop``; with ``labels="folder"``, ``label`` (index into :attr:`classes`).
    ``model_path``: the weights (default: the shipped model that made each file)."""

    def __init__(self, source, *, kind: str = "latents", labels: str | None = None,
                 model_path: str | Path | None = None) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
        if labels not in (None, "folder"):
            raise ValueError(f"labels must be None or 'folder', got {labels!r}")
        self.kind, self.model_path = kind, None if model_path is None else str(model_path)
        self.root, listed = list_files(source, (".vqv",))
        if not listed:
            raise VqvError(f"{source}: no .vqv file found")
        self.files = [str(f.path) for f in listed]
        self.classes = sorted({f.label for f in listed}) if labels == "folder" else []
        self.labels = [self.classes.index(f.label) for f in listed] if labels == "folder" else None
        counts = []
        for path in self.files:                     # the index only: no payload read, no torch
            with open(path, "rb") as fh:
                try:
                    counts.append(len(VqvReader(fh)))
                except Exception as e:  # noqa: BLE001 - which file is bad matters more than why
                    raise VqvError(f"{path}: {e}") from None
        self.gop_counts = np.asarray(counts, np.int64)
        self._ends = np.cumsum(self.gop_counts)
        self._models: dict[bytes, object] = {}

    def __len__(self) -> int:
        return int(self._ends[-1]) if len(self._ends) else 0

    def locate(self, index: int) -> tuple[int, int]:
        """``(file, gop)`` of item ``index``."""
        if not -len(self) <= index < len(self):
            raise IndexError(f"item {index} out of range ({len(self)} GOPs)")
        index %= len(self)
        f = int(np.searchsorted(self._ends, index, side="right"))
        return f, int(index - (self._ends[f - 1] if f else 0))

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_models"] = {}          # loaded again where needed: workers never receive a network
        return state

    def _model(self, digest: bytes):
        if digest not in self._models:
            from vqcodec.weights import model_for_file
            self._models[digest] = model_for_file(digest, self.model_path)
        return self._models[digest]

    def __getitem__(self, index: int) -> dict:
        f, g = self.locate(index)
        with open(self.files[f], "rb") as fh:
            reader = VqvReader(fh)
            model = self._model(reader.header.model_digest)
            item = _read_item(self.kind, reader, model, g)
        item.update(file=f, gop=g)
        if self.labels is not None:
            item["label"] = self.labels[f]
        return item

    def __repr__(self) -> str:
        return (f"VqvDataset({len(self.files)} files, {len(self)} GOPs of {self.kind} from {self.root}"
                + (f", {len(self.classes)} classes" if self.labels is not None else "") + ")")


def _read_item(kind: str, reader: VqvReader, model, g: int) -> dict:
    from vqcodec.coding.decoder import check_model, read_gop_codes

    h = reader.header
    model = check_model(h, model)
    frames = h.gop_frames(g)
    if kind == "frames":
        video = _gop_frames(reader, model, g)[:, :h.coded_height, :h.coded_width]
        # a trimmed GOP (13.x) as long as every other: its last frame repeated, as a last GOP's are
        video = np.pad(video, ((0, h.gop_length - len(video)), (0, 0), (0, 0), (0, 0)), mode="edge")
        return {"frames": torch.from_numpy(np.ascontiguousarray(video)), "frame_count": frames,
                "valid": torch.arange(video.shape[0]) < frames}
    codes = next(read_gop_codes(reader, model, [g])).codes.padded_to(h.gop_length // int(model.cfg.bottom_factor[0]))
    per_slice = int(model.cfg.bottom_factor[0])
    t = codes.level("bottom").grid[0]
    out = {"frame_count": frames, "valid": torch.arange(t) * per_slice < frames}
    if kind == "latents":
        from vqcodec.latents import gop_latents
        out.update({k: torch.from_numpy(v) for k, v in gop_latents(model, codes).items()})
    else:
        out.update({lv.name: torch.from_numpy(lv.indices.astype(np.int64)) for lv in codes.levels})
        if codes.scalar is not None:
            out["bottom_scalar"] = torch.from_numpy(codes.scalar.symbols.astype(np.int64))
    return out


def _gop_frames(reader: VqvReader, model, g: int) -> np.ndarray:
    """GOP ``g``'s decoded frames (32, a trimmed GOP's fewer; padded H and W, 3), as :func:`~vqcodec.coding.decoder.decode_gops`
    makes them; with the motion layer the GOPs from the refresh point on are decoded first (each
    predicts from the frame before it)."""
    from vqcodec.coding.decoder import file_motion_residual, read_gop_codes
    from vqcodec.coding.gops import enhancement_residual, synthesise
    from vqcodec.coding.motion import apply_motion

    motion = reader.motion_layer
    start = reader.refresh_point(g) if motion else g
    block = tuple(int(b) for b in model.cfg.bottom_factor)
    residual = file_motion_residual(reader, model)
    last, frames = None, None
    for gop in read_gop_codes(reader, model, range(start, g + 1)):
        if gop.codes.motion is None:
            frames = synthesise(model, gop.codes) if gop.index == g else None
            continue
        frames = synthesise(model, gop.codes, enhance=False)
        frames = apply_motion(frames, gop.codes.motion, None if gop.refresh else last, block,
                              enhancement_residual(model, gop.codes), residual)
        last = frames[-1]
    return frames
