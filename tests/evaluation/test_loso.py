from typing import NamedTuple

import pytest

from mer.config_check import ConfigError
from mer.evaluation.loso import (
    Fold,
    check_resumable,
    config_changes,
    fold_seed,
    make_folds,
    protocol_description,
    run_folds,
)


class Member(NamedTuple):
    subject: str
    dataset: str = "d"
    part: str = ""


def members(subjects, **fields):
    return [Member(s, **fields) for s in subjects]


def test_loso_has_one_fold_per_subject_in_natural_order():
    folds = make_folds(members(["sub10", "sub2", "sub2", "sub1"]), protocol="loso")
    assert [f.test_subjects for f in folds] == [("sub1",), ("sub2",), ("sub10",)]
    assert [f.name for f in folds] == ["fold000", "fold001", "fold002"]


def test_kfold_is_subject_disjoint_covering_and_balanced():
    subjects = [f"s{i}" for i in range(23)]
    folds = make_folds(members(subjects), protocol="kfold", num_folds=10, seed=3)
    held_out = [s for f in folds for s in f.test_subjects]
    assert sorted(held_out) == sorted(subjects)
    assert {len(f.test_subjects) for f in folds} == {2, 3}
    assert folds == make_folds(members(subjects), protocol="kfold", num_folds=10, seed=3)
    assert folds != make_folds(members(subjects), protocol="kfold", num_folds=10, seed=4)
    with pytest.raises(ValueError, match="num_folds"):
        make_folds(members(subjects), protocol="kfold", num_folds=30)


def test_fold_seed_depends_on_seed_and_fold_only():
    a, b = Fold(0, ("s1",)), Fold(1, ("s2",))
    assert fold_seed(0, a) == fold_seed(0, Fold(0, ("s1",)))
    assert len({fold_seed(0, a), fold_seed(0, b), fold_seed(1, a)}) == 3


def rows_for(fold):
    return [
        {"id": f"{s}/c", "clip": f"{s}/c", "subject": s, "dataset": "d", "label": "x", "prediction": "x"}
        | {"fold": fold.name}
        for s in fold.test_subjects
    ]


def test_an_interrupted_run_resumes_without_redoing_or_rewriting_finished_folds(tmp_path):
    folds = make_folds(members(["a", "b", "c"]), protocol="loso")
    calls = []

    def crashing(fold):
        calls.append(fold.index)
        if fold.index == 2:
            raise KeyboardInterrupt
        return rows_for(fold)

    with pytest.raises(KeyboardInterrupt):
        run_folds(folds, crashing, tmp_path, progress=False)
    finished = {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("*.csv")}
    assert sorted(finished) == ["fold000.csv", "fold001.csv"]
    assert not list(tmp_path.glob("*.tmp"))

    calls.clear()
    rows = run_folds(folds, lambda f: calls.append(f.index) or rows_for(f), tmp_path, progress=False)
    assert calls == [2]
    assert [r["subject"] for r in rows] == ["a", "b", "c"]
    assert {p: (tmp_path / p).stat().st_mtime_ns for p in finished} == finished


def test_resuming_with_another_configuration_is_refused(tmp_path):
    check_resumable(tmp_path, {"lr": 0.1, "epochs": 2})
    check_resumable(tmp_path, {"lr": 0.1, "epochs": 2})
    with pytest.raises(ConfigError, match=r"another configuration \(lr: 0\.1 -> 0\.2\)"):
        check_resumable(tmp_path, {"lr": 0.2, "epochs": 2})


def test_a_refused_resume_names_each_dotted_key_with_both_values():
    old = {"trainer": {"epochs": 30, "lr": 0.1}, "dataset": {"root": "/a", "size": [16, 16]}, "seed": 0}
    new = {"trainer": {"epochs": 31, "lr": 0.1}, "dataset": {"root": "/b", "size": [28, 28]}, "extra": None}
    assert config_changes(old, new) == (
        "dataset.root: /a -> /b; dataset.size: [16, 16] -> [28, 28]; extra: (absent) -> null; "
        "seed: 0 -> (absent); trainer.epochs: 30 -> 31"
    )
    assert config_changes({f"k{i}": 0 for i in range(9)}, {}, most=6).endswith("; and 3 more")


def test_lodo_holds_out_one_database_a_fold():
    samples = members(["s1", "s2"], dataset="casme2") + members(["s1"], dataset="samm") + members(["x"], dataset="smic")
    folds = make_folds(samples, protocol="lodo")
    assert [[s.dataset for s in samples if f.holds_out(s)] for f in folds] == [["casme2", "casme2"], ["samm"], ["smic"]]
    assert protocol_description("lodo", samples, folds).startswith("leave-one-database-out over 3 databases (casme2")
    with pytest.raises(ValueError, match="two or more databases"):
        make_folds(members(["a", "b"]), protocol="lodo")


def test_split_trains_on_the_training_part_and_refuses_a_subject_on_both_sides():
    samples = members(["a", "b"], part="train") + members(["c"], part="test_a") + members(["d"], part="test_b")
    (fold,) = make_folds(samples, protocol="split")
    assert [s.subject for s in samples if fold.holds_out(s)] == ["c", "d"] and fold.test_parts == ("test_a", "test_b")
    with pytest.raises(ValueError, match=r"subjects \['a'\] are in both"):
        make_folds([*samples, Member("a", part="test_b")], protocol="split")
    with pytest.raises(ValueError, match="needs samples of a test part"):
        make_folds(members(["a"]), protocol="split")
