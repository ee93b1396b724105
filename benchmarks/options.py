"""Options shared by the benchmark commands. Imports only click, so a command can still set
``OMP_NUM_THREADS`` before torch is loaded."""
from __future__ import annotations

import os
from pathlib import Path

import click


def input_option(help_text: str):
    """``--input/-i SPEC`` of every benchmark command (default: corpus:$VQV_CORPUS or data/corpus)."""
    return click.option("--input", "-i", "input_spec", show_default="corpus:$VQV_CORPUS or corpus:data/corpus",
                        default=lambda: "corpus:" + os.environ.get("VQV_CORPUS", "data/corpus"), help=help_text)


#: ``--cache-dir`` of every benchmark command: where decoded frames are cached.
cache_dir_option = click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path),
                                default=lambda: Path(os.environ.get("VQV_CACHE", Path.home() / ".cache" / "vqv")),
                                show_default="$VQV_CACHE or ~/.cache/vqv")
