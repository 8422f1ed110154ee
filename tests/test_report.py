import json

import pytest

from mer.report import main


def fake_run(path, *, seed, uf1, lr=1e-3, model="r3d_18"):
    path.mkdir(parents=True)
    results = {
        "uf1": uf1,
        "uar": uf1 - 0.1,
        "accuracy": uf1 + 0.1,
        "seed": seed,
        "model": model,
        "dataset": "synthetic",
    }
    (path / "results.json").write_text(json.dumps(results))
    (path / "config_resolved.yaml").write_text(f"seed: {seed}\ntrainer:\n  lr: {lr}\n")
    return path


def test_runs_differing_only_in_seed_are_pooled_into_mean_and_std(tmp_path, capsys):
    a = fake_run(tmp_path / "a", seed=0, uf1=0.70)
    b = fake_run(tmp_path / "b", seed=1, uf1=0.80)
    c = fake_run(tmp_path / "c", seed=0, uf1=0.50, lr=1e-2)
    assert main([str(a), str(b), str(c), "--out", str(tmp_path / "cmp")]) == 0
    printed = capsys.readouterr().out
    # mean 0.75, sample standard deviation of (0.70, 0.80) = 0.0707
    assert "| r3d_18 on synthetic (a, b) | 0.7500 ± 0.0707 | 0.6500 ± 0.0707 | 0.8500 ± 0.0707 | 2 (0,1) |" in printed
    assert "| r3d_18 on synthetic (c) | 0.5000 |" in printed
    assert "\\toprule" in (tmp_path / "cmp" / "comparison.tex").read_text()
    assert "$\\pm$" in printed


def test_a_directory_without_results_is_a_clear_error(tmp_path, capsys):
    assert main([str(tmp_path)]) == 2
    assert "no results.json" in capsys.readouterr().err


def test_a_single_run_has_no_spread(tmp_path, capsys):
    main([str(fake_run(tmp_path / "a", seed=0, uf1=0.6))])
    assert "| r3d_18 on synthetic | 0.6000 | 0.5000 | 0.7000 | 1 (0) |" in capsys.readouterr().out


def write_curves(run, losses):
    (run / "folds").mkdir()
    (run / "folds" / "plan.json").write_text(json.dumps({"folds": [f"fold{k:03d}" for k in range(len(losses))]}))
    for k, fold in enumerate(losses):
        lines = ["epoch,loss,accuracy,sampling_power,reweight_power"]
        lines += [f"{e},{v},{'' if k else 0.5},1.0,0.0" for e, v in enumerate(fold)]
        (run / "folds" / f"fold{k:03d}.curve.csv").write_text("\n".join(lines) + "\n")


def test_curves_of_two_runs_are_drawn_over_each_other_with_the_mean_over_folds(tmp_path, capsys):
    from mer.evaluation.curves import mean_curve, read_curves

    a, b = fake_run(tmp_path / "a", seed=0, uf1=0.7), fake_run(tmp_path / "b", seed=1, uf1=0.6, lr=1e-2)
    write_curves(a, [[1.0, 0.5, 0.25], [3.0, 1.5]])  # folds of different lengths: the mean over the shared epochs
    write_curves(b, [[2.0, 1.0, 0.5]])
    epochs, mean = mean_curve(read_curves(a / "folds", ["fold000", "fold001"]), "loss")
    assert epochs.tolist() == [0, 1] and mean.tolist() == [2.0, 1.0]
    _, accuracy = mean_curve(read_curves(a / "folds", ["fold000", "fold001"]), "accuracy")
    assert accuracy.tolist() == [0.5, 0.5]  # a fold without accuracy (training methods) does not count
    assert main([str(a), str(b), "--curves", str(tmp_path / "curves.png")]) == 0
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert main([str(fake_run(tmp_path / "c", seed=0, uf1=0.5)), "--curves", str(tmp_path / "x.png")]) == 2
    assert "no training curves" in capsys.readouterr().err


def write_predictions(run, outcomes, classes=("negative", "positive", "surprise")):
    """``outcomes``: subject -> list of (label, prediction) indices."""
    lines = ["id,clip,subject,dataset,label,prediction,fold"]
    for s, pairs in outcomes.items():
        lines += [f"{s}/{k},{s}/{k},{s},d,{classes[a]},{classes[b]},f" for k, (a, b) in enumerate(pairs)]
    (run / "predictions.csv").write_text("\n".join(lines) + "\n")
    results = json.loads((run / "results.json").read_text())
    (run / "results.json").write_text(json.dumps({**results, "classes": list(classes)}))


def test_macro_f1_of_confusions_matches_the_metrics_module():
    import numpy as np

    from mer.evaluation.metrics import score
    from mer.evaluation.significance import macro_f1

    rng = np.random.default_rng(0)
    y, p = rng.choice([0, 2], 40), rng.integers(0, 3, 40)  # class 1 has no true sample: left out of the mean
    confusion = np.zeros((3, 3))
    np.add.at(confusion, (y, p), 1)
    assert macro_f1(confusion) == pytest.approx(score(y, p, ["a", "b", "c"])["uf1"])


def test_a_clearly_better_group_is_more_than_chance_and_identical_runs_are_not(tmp_path, capsys):
    from mer.evaluation.significance import paired_bootstrap

    subjects = [f"s{i}" for i in range(12)]
    right = {s: [(0, 0), (1, 1), (2, 2)] for s in subjects}
    wrong = {s: [(0, 1), (1, 2), (2, 0)] for s in subjects}
    a0, a1 = fake_run(tmp_path / "a0", seed=0, uf1=1.0), fake_run(tmp_path / "a1", seed=1, uf1=1.0)
    b = fake_run(tmp_path / "b", seed=0, uf1=0.0, lr=1e-2)
    for run, outcomes in ((a0, right), (a1, right), (b, wrong)):
        write_predictions(run, outcomes)
    assert main([str(a0), str(a1), str(b), "--resamples", "500"]) == 0
    printed = capsys.readouterr().out
    assert (
        "UF1 r3d_18 on synthetic (a0, a1) - r3d_18 on synthetic (b): +1.0000, 95% interval [+1.0000, +1.0000]"
        in printed
    )
    assert "p = 0.000: more than chance" in printed
    half = {s: right[s] if i % 2 else wrong[s] for i, s in enumerate(subjects)}
    same = paired_bootstrap([[*read(a0)]], [[*read(a0)]], ["negative", "positive", "surprise"], resamples=200)
    assert (same.observed, same.low, same.high, same.p_value) == (0.0, 0.0, 0.0, 1.0)
    write_predictions(b, half)
    mixed = paired_bootstrap([read(a0)], [read(b)], ["negative", "positive", "surprise"], resamples=2000)
    # b's UF1 on a resample is its share of right subjects: the difference's spread is that of a binomial share
    assert mixed.observed == pytest.approx(0.5) and 0.15 < mixed.low < 0.4 and 0.6 < mixed.high < 0.85
    assert mixed.p_value < 0.01
    write_predictions(b, {s: right[s] for s in subjects[:6]})
    with pytest.raises(ValueError, match="held out different subjects"):
        paired_bootstrap([read(a0)], [read(b)], ["negative", "positive", "surprise"])
    assert main([str(a0), str(b)]) == 0  # unpaired runs: the table, and why there is no test
    printed = capsys.readouterr().out
    assert "| r3d_18" in printed and "significance: not tested, the runs held out different subjects" in printed


def read(run):
    import csv

    return list(csv.DictReader((run / "predictions.csv").open()))
