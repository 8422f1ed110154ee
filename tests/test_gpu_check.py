"""benchmarks/gpu_check.py on a CPU with tiny settings: every stage runs and prints what it measured."""

import importlib.util
import sys
from pathlib import Path

import pytest

from tests.conftest import SHARED_DATA

ROOT = Path(__file__).resolve().parents[1]
COMPOSITE = SHARED_DATA / "megc2019_composite"
spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" / "gpu_check.py")
gpu_check = sys.modules["gpu_check"] = importlib.util.module_from_spec(spec)  # a script, not a package
spec.loader.exec_module(gpu_check)


@pytest.mark.skipif(not COMPOSITE.is_dir(), reason="needs ../shared/data/megc2019_composite")
def test_the_gpu_check_measures_alone_fused_and_a_whole_run(tmp_path, monkeypatch):
    monkeypatch.setenv("MER_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "check.jsonl"
    rows = gpu_check.main(
        [
            "--composite",
            str(COMPOSITE),
            "--models",
            "ststnet,facetoponet,ensemble_flow",
            "--epochs",
            "2",
            "--fold-limit",
            "*=2",
        ]
        + ["--extra", "trainer.fuse=2", "--extra", "evaluation.max_folds=2", "--extra", "trainer.num_threads=1"]
        + ["--loso", "ststnet", "--loso-seeds", "0", "--loso-epochs", "2", "--out", str(out)]
    )
    by = {(r.get("model"), r["mode"]): r for r in rows}
    alone, fused = by["ststnet", "alone"], by["ststnet", "fused"]
    assert alone["folds"] == 1 and fused["folds"] == 2 and fused["all_folds"] == 68
    assert alone["s_per_epoch"] > 0 and fused["samples_per_s"] > 0 and alone["gflop_per_sample"] > 0
    assert by["facetoponet", "fused"]["folds"] == 2  # its learned tree: computed per fold outside vmap
    assert ("ensemble_flow", "fused") not in by and by["ensemble_flow", "alone"]["s_per_epoch"] > 0
    assert by["ststnet", "estimate"]["board_minutes"] > 0
    whole = by["ststnet", "loso"]
    assert whole["folds"] == 2 and 0 <= whole["uf1"] <= 1 and whole["epochs"] == 2
    assert len(out.read_text().splitlines()) == len(rows)
