"""The machine a run is on: peak memory of the process per codec, and what it is (CPU, libraries)."""
from __future__ import annotations

import os
import platform
import re
import resource

import av
import numpy as np
import torch


class PeakRSS:
    """Peak resident set size of this process during one codec's run.

    Uses the kernel's high-water mark (VmHWM in /proc/self/status), reset before each codec by
    writing 5 to /proc/self/clear_refs; falls back to ``resource.getrusage(RUSAGE_SELF).ru_maxrss``
    (the lifetime peak, never reset) where that is not possible. The number includes the Python,
    numpy, torch and FFmpeg baseline of the process.
    """

    def __init__(self) -> None:
        self.method = "VmHWM reset via /proc/self/clear_refs"
        try:
            self.reset()
            self._read_hwm()
        except OSError:
            self.method = "ru_maxrss (lifetime peak of the process, not reset per codec)"

    def reset(self) -> None:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")

    def _read_hwm(self) -> float:
        with open("/proc/self/status") as f:
            m = re.search(r"VmHWM:\s+(\d+)\s*kB", f.read())
        if not m:
            raise OSError("no VmHWM")
        return int(m.group(1)) / 1024.0

    def start(self) -> None:
        if self.method.startswith("VmHWM"):
            try:
                self.reset()
            except OSError:
                pass

    def peak_mb(self) -> float:
        if self.method.startswith("VmHWM"):
            try:
                return self._read_hwm()
            except OSError:
                pass
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def machine_info() -> dict:
    info = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "pyav": av.__version__,
        "ffmpeg_libs": {k: ".".join(map(str, v)) for k, v in av.library_versions.items()},
    }
    try:
        info["cpus_available"] = len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        pass
    cpu = _proc_search("/proc/cpuinfo", r"model name\s*:\s*(.+)")
    if cpu:
        info["cpu"] = cpu.strip()
    mem_kb = _proc_search("/proc/meminfo", r"MemTotal:\s+(\d+)")
    if mem_kb:
        info["mem_total_gb"] = round(int(mem_kb) / 1024**2, 1)
    return info


def _proc_search(path: str, pattern: str) -> str | None:
    """The first group of ``pattern`` in a /proc file; None where there is no such file or line."""
    try:
        with open(path) as f:
            m = re.search(pattern, f.read())
    except OSError:
        return None
    return m.group(1) if m else None
