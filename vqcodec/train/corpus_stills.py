"""Short synthetic pan/zoom videos over the photographs that ship inside scikit-image (no download):
the corpus's ``--stills`` (``dest/stills/<still>_<k>.npy``, uint8 (T, H, W, 3), all training)."""

from __future__ import annotations

import hashlib
import io
import zlib
from pathlib import Path
from typing import Iterable

import numpy as np

from vqcodec.io.files import atomic_write_bytes, sha256_file
from vqcodec.train.corpus_manifest import CorpusError, CorpusFile, Log

# scikit-image stills that ship inside the package (file name in skimage/data), with the
# licence the scikit-image docs give for each.  Images whose licence is not stated there are
# left out.
STILLS: dict[str, tuple[str, str]] = {
    "astronaut": ("astronaut.png", "Eileen Collins, NASA photograph, public domain"),
    "coffee": ("coffee.png", "CC0 by Rachel Michetti (courtesy Pikolo Espresso Bar)"),
    "chelsea": ("chelsea.png", "CC0 by Stefan van der Walt"),
    "rocket": ("rocket.jpg", "DSCOVR launch on Falcon 9, SpaceX, public domain"),
    "camera": ("camera.png", "CC0 by Lav Varshney"),
    "hubble_deep_field": ("hubble_deep_field.jpg", "Hubble eXtreme Deep Field, NASA, public domain"),
    "retina": ("retina.jpg", "fundus photograph, M. Haggstrom, CC0 1.0"),
    "coins": ("coins.png", "Greek coins, Brooklyn Museum, no known copyright restrictions"),
    "text": ("text.png", "Wikipedia File:Corner.png, public domain"),
    "brick": ("brick.png", "CC0 Textures Bricks25, CC0"),
    "grass": ("grass.png", "DeviantArt linolafett Grass-01, CC0"),
    "gravel": ("gravel.png", "CC0 Textures Gravel04, CC0"),
}


def _skimage_data_dir() -> Path:
    try:
        import skimage.data as skd  # only to locate the bundled files; nothing is fetched
    except Exception as e:  # noqa: BLE001
        raise CorpusError(f"--stills needs scikit-image (pip install scikit-image): {e}") from e
    return Path(skd.__file__).parent


def _load_still(path: Path) -> np.ndarray:
    from PIL import Image
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


def _smooth(u: np.ndarray) -> np.ndarray:
    return u * u * (3.0 - 2.0 * u)


def synthesize_still_video(image: np.ndarray, *, frames: int = 48, height: int = 144,
                           width: int = 192, seed: int = 0) -> np.ndarray:
    """A deterministic camera move (pan and/or zoom) over a still image.

    Returns uint8 (frames, height, width, 3).  The move is drawn from ``seed``: a window with
    the output's aspect ratio, 45-90 % of the largest such window fitting in the image, moves
    between two random positions while its size changes between two random scales (eased with
    a smoothstep).  The image is first downscaled with an antialiased filter so that the
    largest window maps ~1:1 onto the output, then each frame is sampled bicubically.
    """
    import torch
    import torch.nn.functional as F
    from PIL import Image

    rng = np.random.default_rng(seed)
    img = np.asarray(image)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    img = img[..., :3].astype(np.uint8)
    H, W = img.shape[:2]
    aspect = width / height
    # largest window with the output's aspect ratio that fits in the image
    if W / H >= aspect:
        max_h = float(H)
    else:
        max_h = W / aspect
    kind = rng.choice(["pan", "zoom_in", "zoom_out", "pan_zoom"])
    if kind == "pan":
        s0 = s1 = rng.uniform(0.45, 0.7)
    elif kind == "zoom_in":
        s0, s1 = rng.uniform(0.75, 0.9), rng.uniform(0.45, 0.6)
    elif kind == "zoom_out":
        s0, s1 = rng.uniform(0.45, 0.6), rng.uniform(0.75, 0.9)
    else:
        s0, s1 = rng.uniform(0.45, 0.9, size=2)
    wh0, wh1 = s0 * max_h, s1 * max_h

    def rand_centre(wh: float) -> np.ndarray:
        ww = wh * aspect
        return np.array([rng.uniform(ww / 2, W - ww / 2), rng.uniform(wh / 2, H - wh / 2)])

    c0, c1 = rand_centre(wh0), rand_centre(wh1)
    if kind in ("zoom_in", "zoom_out"):
        c1 = c0 + 0.3 * (c1 - c0)  # mostly a zoom, a little drift
        c1[0] = np.clip(c1[0], wh1 * aspect / 2, W - wh1 * aspect / 2)
        c1[1] = np.clip(c1[1], wh1 / 2, H - wh1 / 2)
    u = _smooth(np.linspace(0.0, 1.0, frames)) if frames > 1 else np.zeros(1)
    whs = wh0 + (wh1 - wh0) * u
    cs = c0[None] + (c1 - c0)[None] * u[:, None]

    # antialiased pre-downscale so the biggest window is ~1:1 with the output
    scale = min(1.0, height / float(whs.max()))
    if scale < 1.0:
        nw, nh = max(2, round(W * scale)), max(2, round(H * scale))
        img_s = np.asarray(Image.fromarray(img).resize((nw, nh), Image.Resampling.BICUBIC))
        sx, sy = nw / W, nh / H
    else:
        img_s, sx, sy = img, 1.0, 1.0
    hs, ws = img_s.shape[:2]
    src = torch.from_numpy(np.array(img_s, dtype=np.uint8, copy=True)).permute(2, 0, 1)[None].float()
    # sampling grid, normalised coordinates (align_corners=False)
    ys = (torch.arange(height, dtype=torch.float64) + 0.5) / height - 0.5   # -0.5..0.5
    xs = (torch.arange(width, dtype=torch.float64) + 0.5) / width - 0.5
    out = np.empty((frames, height, width, 3), dtype=np.uint8)
    for t in range(frames):
        wh = whs[t]
        ww = wh * aspect
        cx, cy = cs[t]
        px = (cx + xs * ww) * sx            # pixel coords in the scaled image
        py = (cy + ys * wh) * sy
        gx = (2.0 * px / ws - 1.0).float()
        gy = (2.0 * py / hs - 1.0).float()
        grid = torch.stack(torch.meshgrid(gy, gx, indexing="ij")[::-1], dim=-1)[None]
        fr = F.grid_sample(src, grid, mode="bicubic", padding_mode="border", align_corners=False)
        out[t] = fr[0].permute(1, 2, 0).round_().clamp_(0, 255).to(torch.uint8).numpy()
    return out


def make_stills(dest: Path | str, *, seed: int = 0, variants: int = 2, frames: int = 48,
                height: int = 144, width: int = 192, names: Iterable[str] | None = None,
                log: Log = print) -> list[CorpusFile]:
    """Write ``dest/stills/<still>_<k>.npy`` for every bundled scikit-image still in STILLS
    (or only ``names``).  Deterministic given ``seed``; identical files already present are kept.
    """
    dest = Path(dest)
    ddir = _skimage_data_dir()
    out: list[CorpusFile] = []
    for name, (fname, lic) in STILLS.items():
        if names is not None and name not in set(names):
            continue
        p = ddir / fname
        if not p.is_file():
            log(f"  stills: {fname} is not bundled with this scikit-image, skipped")
            continue
        img = _load_still(p)
        for k in range(variants):
            s = [int(seed), zlib.crc32(name.encode()), k]
            vid = synthesize_still_video(img, frames=frames, height=height, width=width,
                                         seed=int(np.random.SeedSequence(s).generate_state(1)[0]))
            rel = f"stills/{name}_{k}.npy"
            buf = io.BytesIO()
            np.save(buf, vid, allow_pickle=False)
            data = buf.getvalue()
            sha = hashlib.sha256(data).hexdigest()
            q = dest / rel
            if not (q.is_file() and sha256_file(q) == sha):
                atomic_write_bytes(q, data)
            out.append(CorpusFile(file=rel, source="scikit-image-stills", sha256=sha, bytes=len(data),
                                  split="train", license=f"skimage.data.{name}: {lic}",
                                  origin=f"scikit-image bundled still {fname}, synthetic pan/zoom "
                                         f"seed={seed} variant={k}", kind="frames"))
    log(f"stills: {len(out)} synthetic clips ({frames}x{height}x{width}) in {dest / 'stills'}")
    return out
