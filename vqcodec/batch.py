"""``vqv encode-dataset``: a whole dataset encoded, file by file, on local processes or a Ray cluster.

SRC (a folder tree, a glob pattern or a manifest, :mod:`vqcodec.file_sets`) is mirrored into DST:
``SRC/a/x.mp4`` -> ``DST/a/x.vqv``. One function encodes one file (:func:`encode_one`); an engine runs it
on every file: ``local`` (a process pool of ``workers``) or ``ray`` (remote tasks on the cluster at
``address``, or on a local Ray started for the run). Each output is written to a temporary beside it
and renamed when complete, so a crash or ``kill -9`` never leaves a half-written ``.vqv``; a rerun skips
the files whose output exists (resumable) and removes the dead run's temporaries.

Every outcome is a line of ``DST/vqv-manifest.jsonl`` (JSON lines, appended by the driver only):
``{"source", "output", "status": "ok"|"error", "frames", "bytes", "bpp", "quality", "seconds", "error",
"time"}``. A rerun adds a line for a file only when it does something with it (an output found complete
without its line, after a crash between the rename and the record, is recorded then with
``"found": true``), so each source has one ``ok`` line however often the run was resumed; a failed file
has an ``error`` line per attempt, and the last line of a source is its state. A bad file is recorded
and skipped, the others go on; the run's exit status says whether any failed.
"""
from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from vqcodec.errors import OptionError, VqvError, describe_error, is_user_error
from vqcodec.file_sets import list_files
from vqcodec.formats.errors import printable

MANIFEST = "vqv-manifest.jsonl"
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv", ".ogv",
                  ".ts", ".y4m", ".npy", ".gif")
ENGINES = ("local", "ray")
STOP_GRACE_SECONDS = 1.0  # a stopped run waits this long for each killed worker to end
MAX_ATTEMPTS = 2          # a file whose worker died is tried again once (another file may have killed it)


@dataclass(frozen=True)
class Job:
    """One file to encode: what :func:`encode_one` needs, nothing unpicklable."""

    source: str
    output: str
    rel: str                      # the source relative to SRC, as the manifest names it
    out_rel: str                  # the output relative to DST, as the manifest names it
    options: dict = field(default_factory=dict)       # pipeline.encode_file's keyword arguments
    model_path: str | None = None
    overwrite: bool = False


_MODELS: dict = {}                # per worker process: the model, loaded once


def _model(path: str | None):
    if path not in _MODELS:
        from vqcodec.weights import load_model
        _MODELS[path] = load_model(path)
    return _MODELS[path]


def encode_one(job: Job) -> dict:
    """Encode one file (the engines' unit of work): its manifest record; a failure is a record too."""
    t0 = time.perf_counter()
    rec = {"source": job.rel, "output": job.out_rel}
    try:
        from vqcodec.pipeline import encode_file
        Path(job.output).parent.mkdir(parents=True, exist_ok=True)
        r = encode_file(Path(job.source), Path(job.output), progress=False, threads=1, model=_model(job.model_path),
                        overwrite=job.overwrite, **job.options)
        rec.update(status="ok", frames=r["frames"], bytes=r["bytes"], bpp=round(r["bpp"], 5), quality=r["quality"])
    except KeyboardInterrupt:
        raise
    except Exception as e:  # noqa: BLE001 - one bad file must not stop the others
        rec.update(status="error", error=describe_error(e) if is_user_error(e) else
                   f"internal error: {type(e).__name__}: {describe_error(e)}")
    rec["seconds"] = round(time.perf_counter() - t0, 3)
    return rec


# ------------------------------------------------------------------------------------------ manifest

class Manifest:
    """``DST/vqv-manifest.jsonl``: read at the start (a line torn by a crash is cut off), appended to."""

    def __init__(self, dst: Path) -> None:
        self.path = dst / MANIFEST
        self.done: set[str] = set()
        if self.path.exists():
            data = self.path.read_bytes()
            keep = data[:data.rfind(b"\n") + 1]
            if len(keep) != len(data):
                with open(self.path, "r+b") as f:       # the last line of a killed run: incomplete
                    f.truncate(len(keep))
            for line in keep.splitlines():
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if rec.get("status") == "ok":
                    self.done.add(rec.get("source"))

    def append(self, rec: dict) -> None:
        rec = {**rec, "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(rec) + "\n")
            f.flush()
            os.fsync(f.fileno())
        if rec["status"] == "ok":
            self.done.add(rec["source"])


# ------------------------------------------------------------------------------------------ planning

@dataclass
class Plan:
    jobs: list[Job]
    records: list[dict]           # outcomes known without encoding: collisions, outputs found complete
    skipped: int                  # already done and recorded
    total: int


def plan(src, dst: Path, *, options: dict, model_path, force: bool) -> Plan:
    """What to do with each file of ``src``: encode it, record it (found complete), or skip it."""
    root, files = list_files(src, VIDEO_SUFFIXES)
    if not files:
        raise VqvError(f"{src}: no video file found (looked for {', '.join(VIDEO_SUFFIXES)})")
    dst_r = dst.resolve()
    files = [f for f in files if dst_r not in f.path.resolve().parents]      # DST inside SRC
    dst.mkdir(parents=True, exist_ok=True)              # once there is something to put in it
    manifest = Manifest(dst)
    jobs, records, skipped, owners = [], [], 0, {}
    for f in files:
        rel = f.rel.as_posix()
        out_rel = f.rel.with_suffix(".vqv").as_posix()
        out = dst / out_rel
        if out_rel in owners:
            records.append({"source": rel, "output": out_rel, "status": "error",
                            "error": f"its output {out_rel} is also {owners[out_rel]}'s (same name, another suffix)"})
            continue
        owners[out_rel] = rel
        if out.exists() and not force:
            if rel in manifest.done:
                skipped += 1
            else:
                records.append(_found(rel, out, out_rel))
            continue
        jobs.append(Job(str(f.path), str(out), rel, out_rel, options, None if model_path is None else str(model_path),
                        force))
    return Plan(jobs, records, skipped, len(files))


def _found(rel: str, out: Path, out_rel: str) -> dict:
    """The record of an output that exists without its manifest line (written whole: a rename)."""
    from vqcodec.formats import VqvReader
    try:
        with open(out, "rb") as f:
            h = VqvReader(f).header
        return {"source": rel, "output": out_rel, "status": "ok", "found": True, "frames": h.frame_count,
                "bytes": out.stat().st_size, "quality": h.quality}
    except Exception as e:  # noqa: BLE001
        return {"source": rel, "output": out_rel, "status": "error",
                "error": f"{out} exists but is not a readable .vqv file ({describe_error(e)}); remove it or use -f"}


def sweep_temporaries(jobs: list[Job]) -> None:
    """Remove the temporaries a killed run left beside the outputs still to be written."""
    from vqcodec.io.files import sweep_stale_temps
    for folder in {str(Path(j.output).parent) for j in jobs}:
        if os.path.isdir(folder):
            sweep_stale_temps(folder)


# ------------------------------------------------------------------------------------------ engines

@contextlib.contextmanager
def _stopped_at_once(pool: ProcessPoolExecutor, jobs: list[Job]):
    """The pool, shut down as usual at the end; on Ctrl-C or a stop signal its workers are killed
    instead of finishing the files they hold, and their temporaries removed."""
    try:
        yield pool
    except KeyboardInterrupt:
        procs = list((pool._processes or {}).values())
        for p in procs:
            p.kill()
        for p in procs:
            p.join(STOP_GRACE_SECONDS)
        pool.shutdown(wait=False, cancel_futures=True)
        sweep_temporaries(jobs)
        raise
    pool.shutdown(wait=True)


def run_local(jobs: list[Job], workers: int, done) -> None:
    """Every job on a pool of ``workers`` processes (in this process when 1), ``done(record)`` as each
    ends. A worker that dies (killed, out of memory) fails the files it held: each is tried again once
    in a new pool, then recorded as an error."""
    if workers == 1:
        for job in jobs:
            done(encode_one(job))
        return
    attempts = {j.output: 0 for j in jobs}
    queue = list(reversed(jobs))
    while queue:
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
        with _stopped_at_once(pool, jobs):
            running = {}
            try:
                while queue or running:
                    while queue and len(running) < 2 * workers:      # bounded: a huge dataset is not all queued
                        fut = pool.submit(encode_one, queue[-1])   # (a pool that broke refuses it: still queued)
                        running[fut] = queue.pop()
                    finished, _ = wait(running, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        done(fut.result())
                        del running[fut]
            except BrokenProcessPool:
                for job in running.values():
                    if not job.overwrite and Path(job.output).exists():     # it died after its rename:
                        rec = _found(job.rel, Path(job.output), job.out_rel)   # encoded by this run all the same
                        rec.pop("found", None)
                        done(rec)
                        continue
                    attempts[job.output] += 1
                    if attempts[job.output] < MAX_ATTEMPTS:
                        queue.append(job)
                    else:
                        done({"source": job.rel, "output": job.out_rel, "status": "error",
                              "error": "the worker encoding it died (killed, or out of memory)"})


def run_ray(jobs: list[Job], workers: int, address: str | None, done) -> None:
    """Every job as a Ray task (one CPU each) on the cluster at ``address``, or on a local Ray of
    ``workers`` CPUs started (and stopped) here; ``done(record)`` as each ends, in the driver."""
    try:
        import ray
    except ImportError:
        raise OptionError("--engine ray needs Ray: pip install 'vqv[cluster]'") from None
    started = not ray.is_initialized()
    if started:
        kw = {"address": address} if address else {"num_cpus": workers, "include_dashboard": False}
        ray.init(**kw, log_to_driver=False, configure_logging=False)
    try:
        task = ray.remote(num_cpus=1, max_retries=MAX_ATTEMPTS - 1)(encode_one)
        limit = 2 * max(workers, int(ray.cluster_resources().get("CPU", 1)))
        queue, running = list(reversed(jobs)), {}
        while queue or running:
            while queue and len(running) < limit:
                job = queue.pop()
                running[task.remote(job)] = job
            ready, _ = ray.wait(list(running), num_returns=1)
            for ref in ready:
                job = running.pop(ref)
                try:
                    done(ray.get(ref))
                except ray.exceptions.RayError as e:        # its worker died twice, or the node went away
                    done({"source": job.rel, "output": job.out_rel, "status": "error",
                          "error": f"ray: {describe_error(e).splitlines()[0]}"})
    finally:
        if started:
            ray.shutdown()


# ------------------------------------------------------------------------------------------ the run

def encode_dataset(src, dst, *, engine: str = "local", workers: int = 1, address: str | None = None,
                   model_path=None, force: bool = False, progress: bool = True, **options) -> dict:
    """Encode every video of ``src`` into the mirrored tree ``dst`` (created); ``options``: those of
    :func:`vqcodec.pipeline.encode_file` (quality, size, fps, prior, rdo_strength, refresh, motion...).
    Returns the run's summary; ``failed`` > 0 when any file could not be encoded."""
    if engine not in ENGINES:
        raise OptionError(f"--engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if not 1 <= workers <= 256:
        raise OptionError(f"--workers must be in 1..256, got {workers}")
    if address and engine != "ray":
        raise OptionError("--address is for --engine ray")
    # "auto" resolved here, once: every file of the run computes in the same float whichever CPU encodes it
    options = {**options, "network_float": _check_options(options, model_path)}
    dst = Path(dst)
    if dst.exists() and not dst.is_dir():
        raise VqvError(f"{dst} exists and is not a folder")
    p = plan(src, dst, options=options, model_path=model_path, force=force)
    manifest = Manifest(dst)
    counts = {"ok": 0, "error": 0, "frames": 0}
    bar = _bar(len(p.jobs) + len(p.records), progress)

    def done(rec: dict) -> None:
        manifest.append(rec)
        counts[rec["status"]] += 1
        counts["frames"] += rec.get("frames", 0) if rec["status"] == "ok" and not rec.get("found") else 0
        if bar is not None:
            bar.update(1)
        if rec["status"] == "error" and progress:         # one line per bad file, above the bar
            from tqdm import tqdm
            tqdm.write(f"vqv: {printable(rec['source'])}: {rec['error']}", file=sys.stderr)

    for rec in p.records:
        done(rec)
    sweep_temporaries(p.jobs)
    t0 = time.perf_counter()
    try:
        if p.jobs:
            (run_ray(p.jobs, workers, address, done) if engine == "ray" else run_local(p.jobs, workers, done))
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - t0
    encoded = counts["ok"] - sum(1 for r in p.records if r["status"] == "ok")
    return {"files": p.total, "encoded": encoded, "found": counts["ok"] - encoded, "skipped": p.skipped,
            "failed": counts["error"], "frames": counts["frames"], "seconds": round(seconds, 3),
            "files_per_s": round(encoded / seconds, 3) if seconds > 0 else None,
            "frames_per_s": round(counts["frames"] / seconds, 2) if seconds > 0 else None,
            "engine": engine, "workers": workers, "manifest": str(manifest.path)}


def _check_options(options: dict, model_path) -> str:
    """The encoder's options checked once, before any file (a bad --quality is a usage error, not N
    failed files); what the networks will compute in."""
    from vqcodec.pipeline import parse_fps, parse_size
    from vqcodec.settings import EncodeSettings
    parse_fps(options.get("fps"))
    parse_size(options.get("size"))
    keys = ("quality", "prior", "rdo_strength", "refresh", "motion", "motion_search", "motion_residual", "motion_bends",
            "conditional_coder", "network_float")
    return EncodeSettings.build(_model(None if model_path is None else str(model_path)),
                                **{k: options[k] for k in keys if k in options}).network_float


def _bar(total: int, progress: bool):
    from vqcodec.io.streams import is_terminal
    if not progress or not total or not is_terminal(sys.stderr):
        return None
    from tqdm import tqdm
    return tqdm(total=total, desc="encode-dataset", unit="file", leave=False, dynamic_ncols=True, file=sys.stderr)
