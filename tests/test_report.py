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
