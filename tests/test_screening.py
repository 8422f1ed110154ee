"""benchmarks/screening.py: the table's figures are the runs' own, the paired column is mer.report's bootstrap."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("screening", ROOT / "benchmarks" / "screening.py")
screening = sys.modules["screening"] = importlib.util.module_from_spec(spec)  # a script, not a package
spec.loader.exec_module(screening)

CLASSES = ["negative", "positive"]
# Two held-out subjects, two clips each: (subject, label, prediction).
RIGHT = [("s1", "negative", "negative"), ("s1", "positive", "positive")]
RIGHT += [("s2", "negative", "negative"), ("s2", "positive", "positive")]
ONE_WRONG = RIGHT[:2] + [("s2", "negative", "positive"), ("s2", "positive", "positive")]


def _run(
    root: Path, config: str, seed: int, rows: list, uf1: float, uar: float, seconds: float, extra: str = ""
) -> None:
    run = root / "megc3" / config / f"s{seed}"
    (run / ".hydra").mkdir(parents=True)
    results = {"uf1": uf1, "uar": uar, "seconds": seconds, "seed": seed, "classes": CLASSES, "partial": None}
    results |= {"num_folds": 2, "num_samples": 4, "selection": "last_epoch: ...", "git_commit": "abcdef0123456"}
    (run / "results.json").write_text(json.dumps(results))
    (run / "config_resolved.yaml").write_text(f"dataset:\n  root: {root}/features\ntrainer:\n  epochs: 100\n")
    lines = [f"{s}/c{i},{s}/c{i},{s},casme2,{label},{pred},f" for i, (s, label, pred) in enumerate(rows)]
    (run / "predictions.csv").write_text("id,clip,subject,dataset,label,prediction,fold\n" + "\n".join(lines) + "\n")
    overrides = ["dataset=features", "model=r3d", f"seed={seed}", *([extra] if extra else [])]
    (run / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))


def test_table_reads_the_runs_and_pairs_against_default(tmp_path):
    _run(tmp_path, "default", 0, RIGHT, 1.0, 1.0, 120.0)
    _run(tmp_path, "default", 1, RIGHT, 0.9, 0.8, 180.0)
    _run(tmp_path, "loss_focal", 0, ONE_WRONG, 0.7333, 0.75, 60.0, extra="loss=focal")
    (tmp_path / "megc3" / "au").mkdir()
    (tmp_path / "megc3" / "au" / "s0.failed").write_text("exit 1\nConfigError: methods.au needs action units\n")
    (tmp_path / "megc3" / "au" / "s0").mkdir()  # what the failed run left: not also "unfinished"
    (tmp_path / "megc3" / "au" / "s1.claim").mkdir()  # a worker's claim: not a run
    (tmp_path / "megc3" / "loss_ldam" / "s2").mkdir(parents=True)  # a run under way
    lines = screening.table(tmp_path / "megc3")
    cells = [line[2:-2].split(" | ") for line in lines[2:]]
    rows = {c[0].split(" ⚠")[0]: c for c in cells}
    assert rows["default"][1:8] == ["–", "0,1", "0.950 ± 0.071", "0.900 ± 0.141", "1.000, 0.900", "2.5", "–"]
    focal = rows["loss_focal"]
    assert focal[1:7] == ["loss=focal", "0", "0.733 (1 seed)", "0.750 (1 seed)", "0.733", "1.0"]
    # seed 0 both sides: macro F1 of [[1, 1], [0, 2]] (0.733) minus 1.0
    assert focal[7].startswith("-0.267 [") and focal[7].endswith("(0)")
    assert "ConfigError: methods.au needs action units" in lines[2 + list(screening.PLAN).index("au")]
    assert rows["schedule_drw"][1:4] == ["schedule=drw", "0", "not run"]
    assert "unfinished" not in lines[2 + list(screening.PLAN).index("au")]
    assert "⚠ s2: unfinished" in lines[2 + list(screening.PLAN).index("loss_ldam")]
    assert {len(line.split("|")) for line in lines} == {len(screening.R3D_FAMILY.header()) + 2}
    assert not any(line.startswith("| t_") for line in lines)  # the transformer's recipes have their table


def test_transformer_recipes_pair_against_the_transformers_default_and_r3ds(tmp_path):
    _run(tmp_path, "default", 0, RIGHT, 1.0, 1.0, 120.0)
    _run(tmp_path, "t_default", 0, ONE_WRONG, 0.7333, 0.75, 60.0, extra="model=transformer")
    _run(tmp_path, "t_grid2", 0, RIGHT, 1.0, 1.0, 60.0, extra="+model.frame_grid=2")
    lines = screening.table(tmp_path / "megc3", screening.TRANSFORMER_FAMILY)
    rows = {c[0]: c for c in (line[2:-2].split(" | ") for line in lines[2:])}
    assert list(rows) == list(screening.TRANSFORMER_PLAN)
    assert rows["t_default"][7] == "–" and rows["t_default"][8].startswith("-0.267 [")  # against r3d
    assert rows["t_grid2"][7].startswith("+0.267 [") and rows["t_grid2"][8].startswith("+0.000 [")


def test_page_says_it_is_partial(tmp_path):
    _run(tmp_path, "default", 0, RIGHT, 1.0, 1.0, 120.0)
    page = screening.page(tmp_path, "test machine")
    assert "**Partial" in page and "none confirmed on seeds (3, 4, 5)" in page
    assert "casme2_5, r3d: losses, schedules, methods: not run" in page
    assert "megc3, transformer recipes: not run" in page
    assert "commit(s) the runs recorded: abcdef0123" in page


@pytest.mark.parametrize("name", ["default", "loss_crl", "schedule_progressive", "dan"])
def test_plan_names_the_issues_switches(name):
    assert name in screening.PLAN


def test_the_nested_choice_scores_each_subject_with_the_config_the_others_chose(tmp_path):
    """A is right on s1 only, B on s2 only: either scores 0.333 in-sample, but each held-out subject
    gets the configuration that is right on the other one, so the nested choice is always wrong."""
    swap = {"negative": "positive", "positive": "negative"}
    wrong = lambda rows: [(s, label, swap[label]) for s, label, _ in rows]  # noqa: E731
    for seed in screening.SEEDS:
        _run(tmp_path, "default", seed, RIGHT[:2] + wrong(RIGHT[2:]), 0.333, 0.5, 60.0)
        _run(tmp_path, "eac", seed, wrong(RIGHT[:2]) + RIGHT[2:], 0.333, 0.5, 60.0, extra="methods.eac.enabled=true")
    _run(tmp_path, "dan", 0, RIGHT, 1.0, 1.0, 60.0)  # one seed only: not a candidate
    choice = screening.nested_choice(screening.configs(tmp_path / "megc3"))
    assert choice.candidates == 2 and choice.uf1 == [0.0, 0.0, 0.0]
    assert choice.chosen == {"default": 1, "eac": 1}
    assert "**UF1 0.000 ± 0.000**" in choice.sentence()


def test_a_combination_is_confirmed_on_its_own_seeds_against_the_default_on_those(tmp_path):
    _run(tmp_path, "default", 0, RIGHT, 1.0, 1.0, 60.0)
    _run(tmp_path, "default", 3, ONE_WRONG, 0.7333, 0.75, 60.0)
    both = "methods.eac.enabled=true methods.au.enabled=true"
    _run(tmp_path, "eac_au", 0, RIGHT, 1.0, 1.0, 60.0, extra=both)
    _run(tmp_path, "eac_au", 3, RIGHT, 1.0, 1.0, 60.0, extra=both)
    screened = {c[0]: c for c in (line[2:-2].split(" | ") for line in screening.table(tmp_path / "megc3")[2:])}
    assert screened["eac_au"][2] == "0" and screened["eac_au"][7].startswith("+0.000 [")  # seeds 0-2 only
    confirmed = [line[2:-2].split(" | ") for line in screening.table(tmp_path / "megc3", seeds=screening.CONFIRM)[2:]]
    assert [c[0] for c in confirmed] == ["default", "eac_au"]
    assert confirmed[1][2] == "3" and confirmed[1][7].startswith("+0.267 [")  # against default's seed 3
    page = screening.page(tmp_path, "test machine")
    assert "Confirmation on seeds (3, 4, 5)" in page and "megc3: eac_au not confirmed on seeds (3, 4, 5)" in page


def test_a_switch_with_a_setting_changed_is_a_row_not_a_combination(tmp_path):
    _run(tmp_path, "default", 0, RIGHT, 1.0, 1.0, 60.0)
    changed = "methods.confidence.enabled=true methods.confidence.relabel=false"
    _run(tmp_path, "confidence_norelabel", 0, RIGHT, 1.0, 1.0, 60.0, extra=changed)
    rows = [line[2:-2].split(" | ")[:2] for line in screening.table(tmp_path / "megc3")[2:]]
    assert ["confidence_norelabel", changed] in rows
    assert "no combination of the switches run" in screening.page(tmp_path, "test machine")
