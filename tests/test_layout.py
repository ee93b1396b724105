"""The house rules a newcomer relies on: folders that say what they hold, modules and functions small
enough to read, and the top-level folders that are part of the one import namespace."""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CODE = ["vqcodec", "formats", "cli", "benchmarks", "tools"]
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80


def _python_files(folders: list[str]) -> list[Path]:
    out = []
    for top in folders:
        for p in sorted((ROOT / top).rglob("*.py")):
            rel = p.relative_to(ROOT)
            if rel.parts[:2] in (("vqcodec", "formats"), ("vqcodec", "cli")):
                continue        # the symlinks: the same files as formats/ and cli/
            out.append(p)
    return out


def test_no_module_is_longer_than_500_lines():
    long = {str(p.relative_to(ROOT)): n for p in _python_files(CODE + ["tests"])
            if (n := p.read_text().count("\n")) > MAX_MODULE_LINES}
    assert not long, long


def test_no_function_is_longer_than_80_lines():
    long = {}
    for p in _python_files(CODE):
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long[f"{p.relative_to(ROOT)}:{node.lineno} {node.name}"] = n
    assert not long, long


@pytest.mark.parametrize("package", ["net", "entropy", "coding", "io", "train", "release", "formats", "cli"])
def test_every_subpackage_says_what_it_owns(package):
    mod = importlib.import_module(f"vqcodec.{package}")
    doc = (mod.__doc__ or "").strip()
    assert doc and len(doc.splitlines()[0]) > 20, f"vqcodec.{package} has no docstring saying what it owns"


def test_formats_and_cli_are_the_top_level_folders():
    """``vqcodec/formats`` and ``vqcodec/cli`` are the repository's ``formats/`` and ``cli/`` (the source
    tree is the import tree), and the installed modules are those files."""
    for name in ("formats", "cli"):
        assert (ROOT / "vqcodec" / name).resolve() == (ROOT / name).resolve()
        mod = importlib.import_module(f"vqcodec.{name}")
        assert Path(mod.__file__).resolve().parent == (ROOT / name).resolve()


def test_no_library_module_reaches_into_scripts_or_sys_path():
    for p in _python_files(["vqcodec", "formats", "cli", "benchmarks"]):
        text = p.read_text()
        assert "sys.path.insert" not in text, p
        assert "scripts/" not in text, f"{p} cites scripts/ (evidence lives in docs/ and experiments/)"
