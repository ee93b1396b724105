"""Options the file commands share (overwriting, reports, progress) and ``-`` for standard input and output.

``-y``/``-f`` overwrite an existing output, ``-n`` never does (vqv's default too: nothing the user had
is replaced unless asked); both at once is a usage mistake. ``-`` as INPUT reads standard input, as
OUTPUT writes standard output, which then carries the data alone (the report goes to standard
error); video data is never written to, nor read from, a terminal.
"""
from __future__ import annotations

import sys
from pathlib import Path

import click

from vqcodec.io.streams import is_terminal

QUALITY_HELP = ("operating point Q1..QN of the model's quality ladder, smallest files first (the shipped "
                "model: Q1..Q12, default Q4; `vqv model-info` lists them)")
THREADS_HELP = "GOPs coded at once, one CPU thread each (default: torch's thread count); the output is the same"
STDIO = "-"


def overwrite_options(fn):
    """``-y``/``-f``/``--force`` and ``-n``/``--no-overwrite``: the command gets ``force`` and ``never``."""
    fn = click.option("-n", "--no-overwrite", "never", is_flag=True,
                      help="never overwrite: exit 1 if OUTPUT exists (also the default)")(fn)
    return click.option("-y", "-f", "--force", "force", is_flag=True, help="overwrite OUTPUT if it exists")(fn)


def file_to_file(fn):
    """INPUT (a .vqv file or -), OUTPUT (or -) and ``--model`` (default: the shipped model that made
    the file): the opening of every command that reads a .vqv file into another file."""
    fn = click.option("--model", "model_path", type=click.Path(path_type=Path), default=None,
                      help="model weights (default: the shipped model that made the file)")(fn)
    return click.argument("input")(click.argument("output")(fn))


def overwrite(force: bool, never: bool) -> bool:
    """Whether an existing output may be replaced; ``-y`` with ``-n`` is a usage error."""
    if force and never:
        raise click.UsageError("-y/-f (overwrite) and -n (never overwrite) contradict each other")
    return force


def report_options(fn):
    """``-q``, ``--json`` and ``--progress FILE``."""
    fn = click.option("--progress", "progress_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
                      metavar="FILE", help="append key=value progress lines to FILE (as ffmpeg's -progress)")(fn)
    fn = click.option("--json", "as_json", is_flag=True, help="print the report as JSON")(fn)
    return click.option("-q", "--quiet", is_flag=True, help="no progress bar or report")(fn)


def input_source(raw: str):
    """INPUT as given: ``-`` is standard input (not a terminal), anything else a path."""
    return _path_or_stream(raw, sys.stdin, "INPUT is - but standard input is a terminal: pipe the data in "
                           "(e.g. ffmpeg -i in.mp4 -f yuv4mpegpipe - | vqv encode - out.vqv)")


def output_target(raw: str):
    """OUTPUT as given: ``-`` is standard output (not a terminal), anything else a path."""
    return _path_or_stream(raw, sys.stdout, "OUTPUT is - but standard output is a terminal: redirect or pipe it "
                           "(e.g. vqv decode x.vqv - | ffplay -)")


def _path_or_stream(raw: str, std, on_terminal: str):
    if raw != STDIO:
        return Path(raw)
    stream = getattr(std, "buffer", std)
    if is_terminal(stream):
        raise click.UsageError(on_terminal)
    return stream

