import json

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
