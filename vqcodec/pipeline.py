"""File-level codec: a video file -> coded-size frames -> GOPs -> a .vqv file, and back.

Frames are streamed: the input is read one frame at a time, resized to the coded size and handed
to :class:`~vqcodec.coding.encoder.GopEncoder` in 32-frame GOPs; decoding writes each GOP out as soon as the
network has produced it. Each function returns a plain dict report that the CLI prints.

Inputs and outputs are paths or binary streams (standard input and output, ``-`` on the command line): a
video read from a pipe as it arrives, a .vqv file written to one when complete, a .vqv file read from one
(spooled), decoded frames written to one as YUV4MPEG2. Options are checked before anything else, an existing
output (kept without ``overwrite``) before any input is read."""
from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from vqcodec.coding.decoder import FILLS, DamageLog, check_model, decode_gops, read_gop_codes
from vqcodec.coding.encoder import EncodedGop, EncodeStats, GopEncoder, write_container
from vqcodec.coding.gop_coding import copy_summary, label_level, motion_summary, rounded_motion
from vqcodec.coding.motion import motion_arrays
from vqcodec.coding.gops import MAX_CODED_SIDE, synthesise
from vqcodec.entropy.rans import EntropyError
from vqcodec.errors import OptionError, VqvError, naming_the_file
from vqcodec.formats import MAGIC, NotVqvError, VqvFormatError, VqvReader
from vqcodec.formats.audio import section_size
from vqcodec.io.audio import AudioCapture, audio_summary, describe_track, load_audio
from vqcodec.io.files import atomic_path, check_npz_output, check_output_folder, refuse_existing, save_npz
from vqcodec.io.progress import Progress
from vqcodec.io.reader import MAX_SOURCE_SIDE, open_video, resize_frames
from vqcodec.io.streams import SNIFF_BYTES, PrefixedStream, display_name, is_stream, not_vqv_message, read_head
from vqcodec.io.writer import VideoWriter, check_pix_fmt, output_kind
from vqcodec.metrics import QualityAccumulator
from vqcodec.settings import (DEFAULT_INTRA_CODER, DEFAULT_PRESET, DEFAULT_RDO_STRENGTH, DEFAULT_REFRESH,
                              DEFAULT_SCALAR_CONTEXT, DEFAULT_SCENE_CUTS, EncodeSettings)
from vqcodec.weights import CodecModel, load_model, model_for_file

DEFAULT_SHORT_SIDE = 64
MAX_SIDE = MAX_CODED_SIDE
MAX_THREADS = 256       # torch's thread pool crashes (SIGSEGV) when asked for ~100,000 threads


# ------------------------------------------------------------------------------------------ options

def parse_fps(value: str | float | Fraction | None) -> Fraction | None:
    if value is None:
        return None
    try:
        f = Fraction(str(value)).limit_denominator(1_000_000)
    except (ValueError, ZeroDivisionError):
        raise OptionError(f"bad frame rate {value!r} (use e.g. 16, 29.97 or 30000/1001)") from None
    if not 0 < f <= 1000:
        raise OptionError(f"frame rate {value} out of range (0, 1000]")
    return f


def parse_size(size: str | None) -> tuple[int, int] | str | None:
    """``--size``: None (the default size), ``"native"`` or ``(w, h)``; anything else is an option error."""
    if size is None or size == "native":
        return size
    try:
        w_s, h_s = size.lower().split("x")
        w, h = int(w_s), int(h_s)
    except ValueError:
        raise OptionError(f"bad --size {size!r} (use WxH, e.g. 96x64, or native)") from None
    if not (1 <= w <= MAX_SIDE and 1 <= h <= MAX_SIDE):
        raise OptionError(f"--size {size} out of range (1..{MAX_SIDE} per side)")
    return w, h


def coded_size(src_w: int, src_h: int, size: str | None, stride: int) -> tuple[int, int]:
    """The size frames are coded at. Default: scaled down so the short side is 64 with each side rounded to
    the model's spatial stride, aspect kept; a source already that small is kept as it is (never upscaled;
    the codec pads to the stride internally and crops after). ``WxH`` or ``native`` override it."""
    parsed = parse_size(size)
    if parsed is None:
        short = min(src_w, src_h)
        if short <= DEFAULT_SHORT_SIDE:
            return src_w, src_h
        scale = DEFAULT_SHORT_SIDE / short
        w = max(stride, int(round(src_w * scale / stride)) * stride)
        h = max(stride, int(round(src_h * scale / stride)) * stride)
        return w, h
    if parsed == "native":
        return src_w, src_h
    return parsed


def check_threads(n: int | None) -> None:
    """``--threads``: None (as torch has them) or 1..MAX_THREADS; else an option error."""
    if n is not None and not 1 <= n <= MAX_THREADS:
        raise OptionError(f"--threads must be in 1..{MAX_THREADS}, got {n}")


@contextlib.contextmanager
def torch_threads(n: int | None):
    """Run the block with ``n`` torch CPU threads (``None``: as they are; out of 1..MAX_THREADS: an option error)."""
    check_threads(n)
    if n is None:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


# ------------------------------------------------------------------------------------------ encode

def encode_file(input, output, *, quality: int | None = None, size: str | None = None,
                fps: str | None = None, model_path: str | Path | None = None, prior: str = "auto",
                rdo_strength: float = DEFAULT_RDO_STRENGTH, refresh: int = DEFAULT_REFRESH,
                motion: bool | None = None, motion_search: int | None = None, motion_residual: bool = True,
                motion_bends: bool | None = None, preset: str = DEFAULT_PRESET, conditional_coder: bool | None = None,
                intra_coder: bool = DEFAULT_INTRA_CODER, network_float: str | None = None,
                scalar_context: bool = DEFAULT_SCALAR_CONTEXT, scene_cuts: bool = DEFAULT_SCENE_CUTS,
                trim_gops: bool | None = None, measure_quality: bool = False, threads: int | None = None,
                progress: bool = True, progress_file: str | Path | None = None, model: CodecModel | None = None,
                overwrite: bool = True, audio: bool = True, full_synthesis: bool = False) -> dict:
    """``input``: a path, or a binary stream read as it arrives (y4m, or what FFmpeg reads from a pipe),
    its first audio track carried as it is unless ``audio`` is false (:mod:`vqcodec.io.audio`);
    ``output``: a path ending in .vqv, or a binary stream the finished file is written to. Options are
    checked first, then an existing output (refused without ``overwrite``), then the input is read.
    ``progress``: a bar on a terminal; ``progress_file``: key=value lines (:mod:`vqcodec.io.progress`).
    The motion options left at None take ``preset``'s values (:data:`vqcodec.settings.PRESETS`); ``full_synthesis``:
    the file the release before the model's light synthesis wrote (:meth:`CodecModel.full_synthesis`)."""
    if not is_stream(output) and Path(output).suffix.lower() != ".vqv":
        raise OptionError(f"the output of encode is a .vqv file: {output} does not end in .vqv")
    fps = parse_fps(fps)
    parse_size(size)
    check_threads(threads)
    t0 = time.perf_counter()
    with torch_threads(threads):
        model = model or load_model(model_path)
        model = model.full_synthesis() if full_synthesis else model
        settings = EncodeSettings.build(model, quality=quality, prior=prior, rdo_strength=rdo_strength, refresh=refresh,
                                        motion=motion, motion_search=motion_search, motion_residual=motion_residual,
                                        motion_bends=motion_bends, preset=preset, conditional_coder=conditional_coder,
                                        intra_coder=intra_coder, network_float=network_float,
                                        scalar_context=scalar_context, scene_cuts=scene_cuts, trim_gops=trim_gops)
        if not is_stream(output):
            check_output_folder(output)            # before the encode, not after it
            refuse_existing(output, overwrite)
        with Progress("encode", bar=progress, log=progress_file) as bar:
            capture = AudioCapture() if audio else None
            info, frames = open_video(input, fps=fps, audio=capture)
            cw, ch = coded_size(info.width, info.height, size, model.cfg.stride[1])
            settings = settings.for_size(cw, ch)
            bar.start(info.frame_count)
            quality_acc = QualityAccumulator() if measure_quality else None
            gops, n = _encode_gops(model, settings, frames, (cw, ch), bar, quality_acc)
            if n == 0:
                raise VqvError(f"{display_name(input, '<stdin>')}: empty video")
            bar.note("writing the file")
            track = capture and capture.track(Fraction(n) / info.fps, display_name(input, "<stdin>"))
            stats, written = _write_vqv(output, model, settings, gops, info, (cw, ch), overwrite, track)
    seconds = time.perf_counter() - t0
    report = _encode_report(input, output, info, settings, stats, n, (cw, ch), seconds, written)
    report["threads"] = torch.get_num_threads() if threads is None else threads
    if track:
        report["audio"] = {**describe_track(track), "section_bytes": section_size(track)}
    if quality_acc is not None:
        report.update(psnr=quality_acc.psnr_value(cap=100.0), ssim=quality_acc.ssim)
    return report


def _write_vqv(output, model: CodecModel, settings: EncodeSettings, gops: list[EncodedGop], info,
               size: tuple[int, int], overwrite: bool, audio=None) -> tuple[EncodeStats, tuple[int, int]]:
    """The container (with ``audio``, an audio section), to a file (atomically) or a stream (once complete);
    returns the encoder's stats and (bytes written, container overhead in bytes)."""
    kw = {"source_size": (info.width, info.height), "coded_size": size, "fps": info.fps, "audio": audio}
    if is_stream(output):
        with tempfile.SpooledTemporaryFile(max_size=64 << 20) as buf:
            stats = write_container(buf, model, settings, gops, **kw)
            nbytes = buf.tell()
            buf.seek(0)
            overhead = VqvReader(buf).overhead()["overhead"]
            buf.seek(0)
            shutil.copyfileobj(buf, output, 1 << 20)
            output.flush()
        return stats, (nbytes, overhead)
    with atomic_path(output, overwrite=overwrite, make_parents=False) as tmp, open(tmp, "wb") as f:
        stats = write_container(f, model, settings, gops, **kw)
    with open(output, "rb") as f:
        return stats, (Path(output).stat().st_size, VqvReader(f).overhead()["overhead"])


def _encode_gops(model: CodecModel, settings: EncodeSettings, frames, size: tuple[int, int], bar: Progress,
                 quality_acc: QualityAccumulator | None) -> tuple[list[EncodedGop], int]:
    """Source frames -> coded-size frames -> the encoder's GOPs; ``bar`` counts the frames as their GOP
    is coded; measures each GOP's reconstruction into ``quality_acc`` if given."""
    cw, ch = size

    def coded(gop: np.ndarray, n: int, codes, recon: np.ndarray | None) -> None:
        if quality_acc is not None:
            rec = recon if recon is not None else synthesise(enc.model, codes)     # (the networks it computed in)
            quality_acc.update(gop[:n, :ch, :cw], rec[:n, :ch, :cw])
        bar.update(n)

    enc = GopEncoder(model, settings, cw, ch, on_gop=coded, reconstructions=quality_acc is not None)
    n = 0
    for frame in frames:
        enc.add_frame(resize_frames(frame[None], cw, ch)[0])
        n += 1
    return (enc.finish() if n else []), n


def _encode_report(input, output, info, settings: EncodeSettings, stats: EncodeStats, n: int,
                   size: tuple[int, int], seconds: float, written: tuple[int, int]) -> dict:
    cw, ch = size
    nbytes, overhead = written
    raw = n * cw * ch * 3
    duration = n / float(info.fps)
    return {
        "input": display_name(input, "<stdin>"), "output": display_name(output, "<stdout>"), "frames": n,
        "fps": str(info.fps), "duration_s": duration,
        "source_size": [info.width, info.height], "coded_size": [cw, ch], "quality": settings.quality,
        "prior": stats.prior, "bytes": nbytes, "bpp": 8 * nbytes / (n * cw * ch), "kbps": 8 * nbytes / duration / 1000,
        "ratio_vs_rgb24": raw / nbytes, "ratio_vs_input": (info.source_bytes / nbytes) if info.source_bytes else None,
        "bits_per_stream": {k: round(v, 1) for k, v in stats.bits_per_stream.items()},
        "bits_per_level": _per_level(stats.bits_per_stream),
        "ideal_payload_bits": stats.ideal_bits, "payload_bits": 8 * stats.payload_bytes,
        "overhead_bytes": overhead, "prior_params_bytes": stats.prior_params_bytes,
        "copied": {k: round(v, 4) for k, v in stats.copied.items()},
        "copy_bits": {k: round(v, 1) for k, v in stats.copy_bits.items()},
        "rdo_strength": settings.rdo_strength, "refresh": settings.refresh, "preset": settings.preset,
        **({"motion": rounded_motion(stats.motion), "motion_search": settings.motion_search}
           if settings.motion_layer else {}),
        "network_float": settings.network_float, "gops": stats.gops, "refresh_gops": stats.refresh_gops,
        "scene_cuts": stats.scene_cuts, "trimmed_gops": stats.trimmed_gops, "encode_seconds": seconds, "encode_fps": n / seconds,
    }


def _per_level(bits: dict[str, float]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, b in bits.items():
        lvl = label_level(name)
        out[lvl] = round(out.get(lvl, 0.0) + b, 1)
    return out


# ------------------------------------------------------------------------------------------ decode

def _open_reader(source):
    """(the file object to close, its :class:`VqvReader`) of a .vqv path or stream (read to its end and
    spooled); a file that is not a .vqv file is refused with its name and what it looks like."""
    if is_stream(source):
        name = display_name(source, "<stdin>")
        head = read_head(source, SNIFF_BYTES, need=len(MAGIC))     # no wait past the magic on an open pipe
        f = PrefixedStream(head, source)
    else:
        p = Path(source)
        if not p.exists():
            raise VqvError(f"{p}: no such file")
        if p.is_dir():
            raise VqvError(f"{p} is a folder, not a .vqv file")
        name, f = str(p), open(p, "rb")
    try:
        with naming_the_file(name):
            return f, VqvReader(f)
    except NotVqvError:
        if not is_stream(source):
            f.seek(0)
            head = f.read(SNIFF_BYTES)
        f.close()
        raise NotVqvError(not_vqv_message(name, head)) from None
    except BaseException:
        f.close()
        raise


def decode_file(input, output, *, model_path: str | Path | None = None,
                scale_to_source: bool = False, threads: int | None = None, progress: bool = True,
                progress_file: str | Path | None = None, model: CodecModel | None = None,
                overwrite: bool = True, skip_damaged: bool = False, fill: str = "freeze",
                pix_fmt: str | None = None) -> dict:
    """``input``: a .vqv path or stream; ``output``: a path (its type by extension, see
    :class:`~vqcodec.io.writer.VideoWriter`) or a binary stream (YUV4MPEG2, written as frames are decoded).
    ``overwrite=False``: an existing output, or one that appears while decoding, is not replaced (the CLI
    without -y/-f); an empty folder may be decoded into. ``skip_damaged``: damaged GOPs (and those
    predicted from them) are filled as ``fill`` says (:data:`~vqcodec.coding.decoder.FILLS`) and listed
    in the report's ``damaged`` spans instead of stopping the decode. ``pix_fmt``: of .mp4/.mkv outputs
    (:data:`~vqcodec.io.writer.PIX_FMTS`). The file's audio track goes into .mp4/.mkv outputs."""
    check_threads(threads)
    if fill not in FILLS:
        raise OptionError(f"unknown fill {fill!r} (choose from {', '.join(FILLS)})")
    check_pix_fmt(pix_fmt, output_kind(output))                    # an unknown type: a usage mistake
    if not is_stream(output):
        refuse_existing(output, overwrite, empty_folder_ok=True)
    t0 = time.perf_counter()
    f, reader = _open_reader(input)
    name = display_name(input, "<stdin>")
    with f, torch_threads(threads), naming_the_file(name):
        h = reader.header
        if h.frame_count == 0:
            raise VqvError(f"{name}: the file holds no frames")
        model = model or model_for_file(h.model_digest, model_path)
        check_model(h, model)
        ow, oh = (h.source_width, h.source_height) if scale_to_source else (h.coded_width, h.coded_height)
        if scale_to_source and max(ow, oh) > MAX_SOURCE_SIDE:
            raise VqvError(f"the file's source size {ow}x{oh} exceeds {MAX_SOURCE_SIDE} per side; "
                           "decode at the coded size (without --scale-to-source) and resize it yourself")
        fps = Fraction(h.fps_num, h.fps_den)
        n = 0
        damage = DamageLog(h) if skip_damaged else None
        frame_count = None if skip_damaged and fill == "drop" else h.frame_count
        track = load_audio(reader, name, tolerant=skip_damaged)
        with Progress("decode", bar=progress, log=progress_file) as bar, \
                VideoWriter(output, ow, oh, fps, frame_count=frame_count, overwrite=overwrite, pix_fmt=pix_fmt,
                            audio=track) as writer:
            bar.start(h.frame_count)
            for i, gop in enumerate(decode_gops(reader, model, on_damage=damage, fill=fill)):
                for frame in gop:
                    # frame by frame: memory holds one output frame, however large the source was
                    writer.write(resize_frames(frame[None], ow, oh)[0] if scale_to_source else frame)
                    n += 1
                    bar.update(1)
                if not len(gop):
                    bar.update(h.gop_frames(i))         # a dropped GOP
            if n == 0:
                raise VqvError(f"{name}: no GOP could be decoded ({damage.spans[0]['reason']})")
            bar.note("finishing the output")
    seconds = time.perf_counter() - t0
    return {"input": name, "output": display_name(output, "<stdout>"), "frames": n, "size": [ow, oh],
            "fps": str(fps), "decode_seconds": seconds, "decode_fps": n / seconds,
            **({"audio": writer.audio_status} if writer.audio_status else {}),
            **({"damaged": damage.spans} if damage is not None else {})}


# ------------------------------------------------------------------------------------------ inspect

def file_info(input, *, model_path: str | Path | None = None, model: CodecModel | None = None) -> dict:
    """Header, prior, per-GOP sizes and overhead of a .vqv file (no model needed); with the model
    that made it (the shipped one, or ``model_path``), also the copy decisions: the fraction of
    positions copied and the bits they cost, per level."""
    f, reader = _open_reader(input)
    with f, naming_the_file(display_name(input, "<stdin>")):
        h = reader.header
        chunks = [reader.chunk_fields(i) for i in range(len(reader))]    # no payload held: O(1) memory
        ov = reader.overhead()
        version = reader.version
        refresh = [reader.is_refresh(i) for i in range(len(reader))]
        copy_stats = _copy_stats(reader, model, model_path)
        audio = audio_summary(reader)
    frames = h.frame_count
    fps = Fraction(h.fps_num, h.fps_den)
    pixels = frames * h.coded_width * h.coded_height
    total = ov["total"]
    return {
        "file": display_name(input, "<stdin>"), "format_version": f"{version[0]}.{version[1]}", "model": h.model_digest.hex(),
        "source_size": [h.source_width, h.source_height], "coded_size": [h.coded_width, h.coded_height],
        "fps": str(fps), "frames": frames, "duration_s": frames / float(fps), "gop_length": h.gop_length, "scene_cuts": len(h.short_gops),
        "gop_trim": h.gop_trim, "quality": h.quality, "prior": h.prior, "prior_params_bytes": len(h.prior_params),
        "network_float": reader.network_float, "gop_prediction": h.gop_prediction, "copy_mode": h.copy_mode, "refresh_interval": h.refresh_interval,
        "bytes": total, "bpp": 8 * total / pixels if pixels else None,
        "kbps": 8 * total / (frames / float(fps)) / 1000 if frames else None, "overhead": ov,
        **({"audio": audio} if audio else {}), **({"conditional_coders": h.conditional_coder.hex()} if h.conditional_coder else {}),
        **copy_stats,
        "gops": [{"index": c.index, "frames": c.frame_count, "payload_bytes": c.payload_len,
                  "symbols": list(c.symbol_counts), "refresh": r} for c, r in zip(chunks, refresh)],
    }


def _copy_stats(reader: VqvReader, model: CodecModel | None, model_path) -> dict:
    """Per level: fraction of positions copied and bits of copy decisions (needs the file's model)."""
    if not reader.header.copy_mode or reader.header.frame_count == 0 or reader.version[0] < 2:
        return {}       # a 1.x file has no copy decisions (SPEC.md): nothing to decode for them
    try:
        model = model or model_for_file(reader.header.model_digest, model_path)
    except VqvError:
        return {"copy_stats": "unavailable (the model that made the file was not found; pass --model)"}
    if model.for_digest(reader.header.model_digest) is None:
        return {"copy_stats": "unavailable (the file was made with another model; pass --model)"}
    try:
        gops = list(read_gop_codes(reader, model))
    except (VqvError, VqvFormatError, EntropyError) as e:    # info still shows the header and index
        return {"copy_stats": f"unavailable ({e})"}
    copied, bits = copy_summary((g.codes, g.bits) for g in gops)
    motion = motion_summary(((g.codes, g.bits) for g in gops), len(reader.motion_residual) + 1)
    return {"copied": {k: round(v, 4) for k, v in copied.items()}, "copy_bits": {k: round(v, 1) for k, v in bits.items()},
            **({"motion": rounded_motion(motion)} if motion else {})}


#: the axes of each array ``vqv codes`` writes (``frame_counts``: real frames per GOP, the last padded)
CODE_LAYOUT = {"top": "(gops, stages, T, H, W) indices", "bottom": "(gops, stages, T, H, W) indices",
               "_copied": "(gops, T, H, W) copy map", "bottom_scalar": "(gops, C, T, H, W) symbols",
               "bottom_scalar_step": "() step: latent = symbols x step",
               "enhancement": "(gops, K, T, H, W) symbols", "enhancement_step": "() step: coefficients = symbols x step",
               "motion_predicted": "(gops, T, H, W) flags", "motion_vectors": "(gops, T, H, W, 2) (dy, dx) quarter pixels",
               "motion_residual": "(gops, T, H, W) option, 0 none (9.0: also a refresh GOP's first slice's coders)", "motion_residual_codes": "(gops, T, H, W, S) codes",
               "motion_bends": "(gops, T, H, W, bt - 1, 2) (dy, dx) quarter pixels, frames 1.. of each slice",
               "motion_conditional_symbols": "(gops, T, H, W, C) symbols of the conditional coder the option names"}
FILE_LAYOUT = {"frame_counts": "(gops,) real frames per GOP (the last GOP is padded to 32)",
               "fps": "(2,) numerator, denominator", "coded_size": "(2,) width, height", "quality": "() the point"}


def _axes(name: str) -> str:
    return CODE_LAYOUT.get(name) or CODE_LAYOUT["_copied" if name.endswith("_copied") else name]


class CodeFile:
    """The code indices of a .vqv file, per GOP, without decoding pixels (see :func:`read_codes`)."""

    def __init__(self, header, gops: list, frame_counts: list[int], model_digest: str) -> None:
        self.header = header
        self.gops = gops                    # list[Codes], one per GOP, levels coarsest first
        self.frame_counts = frame_counts    # real frames in each GOP (the last may be padded)
        self.model = model_digest

    def __len__(self) -> int:
        return len(self.gops)

    def __repr__(self) -> str:
        h = self.header
        shapes = "; ".join(f"{k} {'x'.join(map(str, v.shape))} {_axes(k)}" for k, v in self.arrays().items()
                           if v.ndim > 0 and not k.endswith("_copied"))
        return (f"CodeFile({len(self)} GOPs, {sum(self.frame_counts)} frames at {h.coded_width}x{h.coded_height}, "
                f"quality {h.quality}; {shapes or 'no codes'})")

    def layout(self) -> dict[str, str]:
        """The axes of each array of :meth:`arrays` and what it holds, by name (``vqv codes`` writes
        it into the .npz as ``layout``, a JSON string)."""
        return {k: _axes(k) for k in self.arrays()}

    def level(self, name: str) -> np.ndarray:
        """All GOPs of one level stacked: int array (gops, stages, T, H, W)."""
        return np.stack([g.level(name).indices for g in self.gops]).astype(np.int32)

    def copy_map(self, name: str) -> np.ndarray:
        """All GOPs' copy maps of one level: bool (gops, T, H, W), true where the codes repeat the
        previous latent slice by the encoder's choice (all false in files without copy mode)."""
        return np.stack([g.level(name).copy_map() for g in self.gops])

    def arrays(self) -> dict[str, np.ndarray]:
        """``{level: indices, "<level>_copied": copy map}`` of every level; at a scalar point also
        ``bottom_scalar`` (gops, C, T, H, W) int32 symbols, ``bottom_scalar_step`` (latent = symbols * step)
        and ``bottom_scalar_copied`` (gops, T, H, W), where the encoder repeated the slice before; at an
        enhanced point ``enhancement`` (gops, K, T, H, W) int32 symbols of the pixel-basis coefficients
        and ``enhancement_step`` (coefficients = symbols * step, in 8-bit pixel units); in a file with the
        motion layer ``motion_predicted`` (gops, T, H, W) bool, the blocks predicted from the previous
        frame, and ``motion_vectors`` (gops, T, H, W, 2) int32, their (dy, dx) in quarter pixels per frame
        (version 5: also ``motion_residual``, ``motion_residual_codes``; 7: ``motion_bends``; 8: ``motion_conditional_symbols``)."""
        if not self.gops:
            return {}
        out = {lv.name: self.level(lv.name) for lv in self.gops[0].levels}
        out.update({f"{lv.name}_copied": self.copy_map(lv.name) for lv in self.gops[0].levels})
        if self.gops[0].scalar is not None:   # a scalar point: the bottom latent is symbols * step
            out["bottom_scalar"] = np.stack([g.scalar.symbols for g in self.gops]).astype(np.int32)
            out["bottom_scalar_step"] = np.array(self.gops[0].scalar.step, np.float64)
            out["bottom_scalar_copied"] = np.stack([g.scalar.copy_map() for g in self.gops])
        if self.gops[0].enhancement is not None:
            out["enhancement"] = np.stack([g.enhancement.symbols for g in self.gops]).astype(np.int32)
            out["enhancement_step"] = np.array(self.gops[0].enhancement.step, np.float64)
        if self.gops[0].motion is not None:   # the motion layer: predicted blocks and their vectors
            out.update(motion_arrays([g.motion for g in self.gops]))
        return out


def read_codes(path, model_path: str | Path | None = None, *, model: CodecModel | None = None) -> CodeFile:
    """Read the code indices of a .vqv file (the model is needed only for its priors and grids)."""
    return read_codes_with_model(path, model_path, model=model)[1]


def read_codes_with_model(path, model_path: str | Path | None = None, *, model: CodecModel | None = None
                          ) -> tuple[CodecModel, CodeFile]:
    """:func:`read_codes`, and the model that read them (the file's, unless ``model`` is given)."""
    f, reader = _open_reader(path)
    with f, naming_the_file(display_name(path, "<stdin>")):
        model = model or model_for_file(reader.header.model_digest, model_path)
        gops, counts = [], []
        slices = reader.header.gop_length // int(model.cfg.bottom_factor[0])
        for g in read_gop_codes(reader, model):
            gops.append(g.codes.padded_to(slices))      # a trimmed GOP's (13.x) with every other GOP's grid
            counts.append(g.frames)
        return model, CodeFile(reader.header, gops, counts, reader.header.model_digest.hex())


def export_codes(input, output: str | Path, *, model_path: str | Path | None = None,
                 overwrite: bool = True) -> dict:
    """``input``: a .vqv path or stream; ``output``: an .npz path (an existing one is refused without
    ``overwrite``) or a binary stream."""
    check_npz_output(output, overwrite, "codes")
    cf = read_codes(input, model_path)
    arrays = cf.arrays()
    h = cf.header
    save_npz(output, {**arrays, "layout": np.array(json.dumps({**cf.layout(), **FILE_LAYOUT})),
                      "frame_counts": np.array(cf.frame_counts, np.int32),
                      "fps": np.array([h.fps_num, h.fps_den], np.int64),
                      "coded_size": np.array([h.coded_width, h.coded_height], np.int32),
                      "quality": np.array(h.quality, np.int32)}, overwrite=overwrite)
    return {"output": display_name(output, "<stdout>"), "gops": len(cf), "model": cf.model,
            "arrays": {k: list(v.shape) for k, v in arrays.items()}, "layout": cf.layout(), "quality": h.quality}
