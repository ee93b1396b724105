"""The downstream example (experiments/latent_classifier) runs end to end on a tiny synthetic labelled
set: made in UCF101's layout, encoded with encode-dataset, read with VqvDataset as latents and as frames,
one classifier trained on each."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_latent_classifier_example_runs_end_to_end(tmp_path):
    out = tmp_path / "r.json"
    cmd = [sys.executable, str(ROOT / "experiments" / "latent_classifier" / "latent_classifier.py"),
           "--model", str(ROOT / "tests" / "golden" / "tiny.pt"), "--per-class", "3", "--frames", "16",
           "--size", "32", "--epochs", "2", "--work", str(tmp_path / "w"), "--out", str(out)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    r = json.loads(out.read_text())
    assert r["encode"] == {**r["encode"], "encoded": 12, "failed": 0} and r["test_clips"] == 4
    assert r["latents"]["input_shape"] == [8, 16, 8, 8] and r["pixels"]["input_shape"] == [3, 32, 32, 32]
    for kind in ("latents", "pixels"):
        assert 0 <= r[kind]["test_accuracy"] <= 1 and r[kind]["train_seconds"] > 0
    assert sorted(p.name for p in (tmp_path / "w" / "vqv").iterdir()) == ["down", "left", "right", "up",
                                                                           "vqv-manifest.jsonl"]
