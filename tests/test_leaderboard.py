"""benchmarks/leaderboard.py: every figure read from the runs, every model listed, examples marked."""

import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("leaderboard", ROOT / "benchmarks" / "leaderboard.py")
leaderboard = sys.modules["leaderboard"] = importlib.util.module_from_spec(spec)  # a script, not a package
spec.loader.exec_module(leaderboard)


def _run(root: Path, model: str, seed: int, uf1: float, partial: str | None = None) -> None:
    run = root / model / f"s{seed}"
    run.mkdir(parents=True)
    parts = {d: {"uf1": uf1 - 0.1, "uar": uf1, "num_samples": 100} for d in ("smic", "casme2", "samm")}
    results = {"uf1": uf1, "uar": uf1 + 0.01, "per_dataset": parts, "seconds": 120.0, "partial": partial}
    results |= {"selection": "last_epoch: ...", "git_commit": "abcdef0123"}
    (run / "results.json").write_text(json.dumps(results))
    (run / "config_resolved.yaml").write_text("trainer:\n  epochs: 800\n")


def test_rows_are_read_from_the_runs_and_every_model_is_listed(tmp_path):
    for seed, uf1 in enumerate((0.70, 0.72, 0.74)):
        _run(tmp_path, "ststnet", seed, uf1)
    for seed, uf1 in enumerate((0.60, 0.62, 0.64)):
        _run(tmp_path, "ensemble_flow", seed, uf1)
    page = leaderboard.leaderboard(tmp_path)
    assert "Not the leaderboard" not in page and "abcdef0" in page
    lines = [line for line in page.splitlines() if line.startswith("| ")]
    assert lines[1].startswith("| STSTNet | 3 | 0.720 ± 0.020 | 0.730 ± 0.020 | 0.620 ± 0.020 |")
    assert lines[1].endswith("| 800 | 2.0 | 0.7353 | no |")
    assert lines[2].startswith("| ensemble_flow | 3 | 0.620 ± 0.020") and lines[2].endswith("| – | ours: no |")
    htnet = next(line for line in lines if line.startswith("| HTNet |"))
    assert "not run" in htnet and htnet.endswith("| 0.8603 | **yes** |")
    assert {len(line.split("|")) for line in lines} == {len(leaderboard.HEADER) + 2}


def test_partial_runs_and_too_few_seeds_mark_the_page(tmp_path):
    _run(tmp_path, "rcn", 0, 0.5, partial="only 2 of 68 folds were run (evaluation.max_folds=2)")
    page = leaderboard.leaderboard(tmp_path)
    assert "Not the leaderboard" in page
    assert "| RCN ⚠ only 2 of 68 folds were run (evaluation.max_folds=2); 1 of 3 seeds | 1 | 0.500 (1 seed)" in page
