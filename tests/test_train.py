"""End to end on a tiny synthetic set: the run directory a paper's numbers come from."""

import csv
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from mer.atomic import write_json_atomic
from mer.config_check import ConfigError
from mer.experiment import _fingerprint, claim_run_dir, run
from tests.conftest import CONFIGS, SHARED_DATA, tiny_clip_run


def tiny_overrides(cache_dir):
    return [
        f"dataset.cache_dir={cache_dir}",
        "dataset.num_subjects=3",
        "dataset.clips_per_subject=4",
        "dataset.frame_size=32",
        "dataset.input_size=[16,16]",
        "trainer.epochs=1",
        "trainer.batch_size=4",
        "trainer.progress=false",
    ]


def tiny_config(tmp_path, *overrides):
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        return compose("config", overrides=[*tiny_overrides(tmp_path / "cache"), *overrides])


def test_loso_run_writes_every_output(tmp_path):
    run_dir = tmp_path / "run"
    results = run(tiny_config(tmp_path, "trainer.epochs=3"), run_dir)
    assert results["num_folds"] == 3 and results["num_samples"] == 12 and results["protocol"] == "loso"
    assert 0 <= results["uf1"] <= 1 and 0 <= results["uar"] <= 1 and "synthetic" in results["per_dataset"]
    assert "last" in results["selection"] and results["partial"] is None
    assert sorted(p.name for p in (run_dir / "folds").glob("fold???.csv")) == [
        "fold000.csv",
        "fold001.csv",
        "fold002.csv",
    ]
    rows = list(csv.DictReader((run_dir / "predictions.csv").open()))
    assert list(rows[0]) == ["id", "clip", "subject", "dataset", "label", "prediction", "fold"] and len(rows) == 12
    assert {r["subject"]: r["fold"] for r in rows} == {"sub01": "fold000", "sub02": "fold001", "sub03": "fold002"}
    assert json.loads((run_dir / "results.json").read_text())["uf1"] == results["uf1"]
    report = (run_dir / "report.md").read_text()
    assert "leave-one-subject-out over 3 subjects" in report and "Confusion matrix" in report
    assert "num_subjects: 3" in (run_dir / "config_resolved.yaml").read_text()
    assert len(results["data_fingerprint"]) == 16 and len(results["fold_seeds"]) == 3
    tex = (run_dir / "report.tex").read_text()
    assert "\\toprule" in tex and "\\bottomrule" in tex and "leave-one-subject-out" in tex
    for fold in ("fold000", "fold001", "fold002"):  # one curve row an epoch, the loss the trainer logged
        curve = list(csv.DictReader((run_dir / "folds" / f"{fold}.curve.csv").open()))
        assert [int(r["epoch"]) for r in curve] == [0, 1, 2]
        assert all(float(r["loss"]) > 0 and 0 <= float(r["accuracy"]) <= 1 for r in curve)
        assert list((run_dir / "tensorboard" / fold).glob("events.out.tfevents.*"))
    assert results["curves"] == 3 and "![training curves](curves.png)" in report
    for figure in ("confusion_matrix.png", "per_subject_accuracy.png", "curves.png"):
        assert (run_dir / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("breaks", "settings"),
    [("mer.evaluation.report.subject_figure", []), ("mer.experiment.save_checkpoint", ["trainer.final_fit=true"])],
    ids=["last-figure", "final-model"],
)
def test_a_run_stopped_while_writing_its_outputs_is_unfinished_until_rerun(
    tmp_path, monkeypatch, capsys, breaks, settings
):
    from mer.report import main as report

    run_dir, cfg = tmp_path / "run", tiny_config(tmp_path, "evaluation.max_folds=1", *settings)

    def disk_full(*args, **kwargs):
        raise OSError("disk full")

    with monkeypatch.context() as patch:
        patch.setattr(breaks, disk_full)
        with pytest.raises(OSError, match="disk full"):
            run(cfg, run_dir)
    assert not (run_dir / "results.json").exists()
    capsys.readouterr()  # the run's own progress
    assert report([str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "an unfinished run (no results.json" in err
    run(cfg, run_dir)  # the same command finishes it
    assert report([str(run_dir)]) == 0


def test_same_fold_gives_the_same_predictions_alone_or_in_the_whole_run(tmp_path):
    whole = run(tiny_config(tmp_path, "trainer.fuse=1"), tmp_path / "whole")
    first = run(tiny_config(tmp_path, "evaluation.max_folds=1"), tmp_path / "first")
    assert first["partial"].startswith("only 1 of 3 folds")
    assert (tmp_path / "first/folds/fold000.csv").read_text() == (tmp_path / "whole/folds/fold000.csv").read_text()
    assert whole["num_folds"] == 3 and first["num_folds"] == 1


def test_a_fused_run_predicts_as_its_folds_one_at_a_time(tmp_path, caplog):
    """Without dropout (whose masks are the documented difference) fused folds are the same folds."""
    caplog.set_level("INFO", logger="mer.experiment")
    run(tiny_config(tmp_path, "model.dropout=0", "trainer.epochs=2", "trainer.fuse=3"), tmp_path / "fused")
    assert "fused folds: 3 of 3 pending folds at once" in caplog.text
    run(tiny_config(tmp_path, "model.dropout=0", "trainer.epochs=2", "trainer.fuse=1"), tmp_path / "alone")
    for fold in ("fold000", "fold001", "fold002"):
        fused = (tmp_path / f"fused/folds/{fold}.csv").read_text()
        assert fused == (tmp_path / f"alone/folds/{fold}.csv").read_text()
        fused_curve = np.loadtxt(tmp_path / f"fused/folds/{fold}.curve.csv", delimiter=",", skiprows=1, usecols=1)
        alone_curve = np.loadtxt(tmp_path / f"alone/folds/{fold}.curve.csv", delimiter=",", skiprows=1, usecols=1)
        assert np.allclose(fused_curve, alone_curve, rtol=1e-2)  # AdamW turns float noise into small steps


def test_a_fused_run_resumes_keeping_its_finished_folds(tmp_path, caplog):
    caplog.set_level("INFO", logger="mer.experiment")
    run(tiny_config(tmp_path, "trainer.fuse=3", "evaluation.max_folds=2"), tmp_path / "run")
    first = tmp_path / "run/folds/fold000.csv"
    kept = (first.read_text(), first.stat().st_mtime_ns)
    caplog.clear()
    results = run(tiny_config(tmp_path, "trainer.fuse=3"), tmp_path / "run")
    assert "fused" not in caplog.text  # one pending fold trains alone
    assert (first.read_text(), first.stat().st_mtime_ns) == kept and results["num_folds"] == 3


def test_kfold_protocol_and_changed_config_on_resume(tmp_path):
    results = run(tiny_config(tmp_path, "evaluation.protocol=kfold", "evaluation.num_folds=2"), tmp_path / "k")
    assert results["num_folds"] == 2 and results["num_samples"] == 12
    with pytest.raises(ConfigError, match=r"another configuration \(evaluation\.num_folds: 2 -> 3\)"):
        run(tiny_config(tmp_path, "evaluation.protocol=kfold", "evaluation.num_folds=3"), tmp_path / "k")
    assert "num_folds: 2" in (tmp_path / "k" / "config_resolved.yaml").read_text()  # the refused run wrote nothing


def mer_train(run_dir, *overrides, cwd):
    """``python -m mer.train`` into ``run_dir``, as a user starts it."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    command = [sys.executable, "-m", "mer.train", f"hydra.run.dir={run_dir}", *overrides]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_refused_resume_names_each_changed_key_and_leaves_the_run_byte_identical(tmp_path):
    """A finished run (its folds' stamp, Hydra's files, its log) started again with trainer.epochs
    changed, and its data given as a relative path with a trailing slash from another directory."""
    run_dir, elsewhere = tmp_path / "run", tmp_path / "elsewhere"
    write_json_atomic(run_dir / "folds" / "config.json", _fingerprint(tiny_config(tmp_path)))
    (run_dir / ".hydra").mkdir()
    (run_dir / ".hydra" / "config.yaml").write_text("trainer:\n  epochs: 1\n")
    (run_dir / "train.log").write_text("the first run's log\n")
    (run_dir / "results.json").write_text("{}\n")
    elsewhere.mkdir()
    before = snapshot(run_dir)
    done = mer_train(run_dir, *tiny_overrides("../cache/"), "trainer.epochs=2", cwd=elsewhere)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert "trainer.epochs: 1 -> 2" in line and "cache_dir" not in line and str(run_dir) in line
    assert snapshot(run_dir) == before


def test_a_run_directory_another_run_writes_is_refused_and_left_alone(tmp_path):
    run_dir = tmp_path / "run"
    held = claim_run_dir(run_dir)
    before = snapshot(run_dir)
    done = mer_train(run_dir, *tiny_overrides(tmp_path / "cache"), cwd=tmp_path)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert f"{run_dir} is being written by another run (pid {os.getpid()})" in line
    assert snapshot(run_dir) == before and not (run_dir / ".hydra").exists()
    held.close()
    claim_run_dir(run_dir).close()  # free once the holder ends


def test_a_multirun_job_directory_another_run_writes_is_refused(tmp_path):
    sweep = tmp_path / "sweep"
    held = claim_run_dir(sweep / "1")  # the second job's directory (hydra.sweep.subdir: the job number)
    command = [sys.executable, "-m", "mer.train", "-m", "seed=0,1", f"hydra.sweep.dir={sweep}"]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(
        [*command, *tiny_overrides(tmp_path / "c")], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert f"mer.train: {sweep / '1'} is being written by another run (pid {os.getpid()})" in done.stderr
    assert (sweep / "0" / "results.json").is_file() and not (sweep / "1" / "results.json").exists()
    held.close()


def test_the_same_data_given_as_another_path_is_the_same_setting(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    monkeypatch.chdir(tmp_path)

    def root(given):
        with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
            return _fingerprint(compose("config", overrides=["dataset=csv", f"dataset.root={given}"]))["dataset"]

    data = str(tmp_path / "data")
    for given in (f"{data}/", "data", f"../{tmp_path.name}/data/"):
        assert root(given) == root(data)
    assert root(data)["root"] == data and root(data)["samples"]["annotations"] == f"{data}/annotations.csv"
    assert root("other") != root(data)


FLOW_STSTNET = [
    "model=ststnet",
    "dataset.kind=flow",
    "dataset.input_size=[28,28]",
    "dataset.normalization.mean=[0,0,0]",
    "dataset.normalization.std=[1,1,1]",
    "trainer.epochs=2",
    "trainer.batch_size=4",
]


@pytest.mark.parametrize(
    "model",
    [
        [],
        FLOW_STSTNET,
        [*FLOW_STSTNET, "methods.eac.enabled=true", "methods.uncertainty.enabled=true"],
        ["dataset.kind=flow_clip", "+dataset.flow_algorithm=farneback", "dataset.input_size=[28,28]"],
    ],
    ids=["r3d_clips", "ststnet_flow", "ststnet_flow_with_methods", "r3d_flow_clips"],
)
def test_final_fit_model_predicts_new_footage(tmp_path, capsys, model):
    from mer.predict import main as predict_main

    run_dir = tmp_path / "run"
    overrides = ["trainer.final_fit=true", "evaluation.max_folds=1", f"trainer.clip_cache_dir={tmp_path / 'clips'}"]
    run(tiny_config(tmp_path, *overrides, *model), run_dir)
    clip = next((tmp_path / "cache" / "synthetic").glob("*/clips/sub01/sub01_01.mp4"))
    assert predict_main([str(run_dir / "final_model.pt"), str(clip), "--face", "none"]) == 0  # cut as trained
    lines = capsys.readouterr().out.splitlines()
    probabilities = {line.split()[0]: float(line.split()[1]) for line in lines[:3]}
    assert set(probabilities) == {"negative", "positive", "surprise"}
    assert sum(probabilities.values()) == pytest.approx(1, abs=1e-3)
    assert lines[3].startswith(f"predicted: {max(probabilities, key=probabilities.get)} ")
    model_path = str(run_dir / "final_model.pt")
    assert predict_main([model_path, str(clip), "--onset", "5", "--offset", "40", "--face", "none"]) == 0
    assert predict_main([str(run_dir / "missing.pt"), str(clip)]) == 2


@pytest.fixture
def flow_images(tmp_path):
    """A composite-style flow-image set: 4 subjects x 6 random 28x28 images, three classes."""
    import numpy as np
    from PIL import Image

    (tmp_path / "flow28").mkdir()
    rng = np.random.default_rng(0)
    with (tmp_path / "samples.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["dataset", "sub", "filename_o", "label"])
        for s in range(4):
            for k in range(6):
                writer.writerow(["casme2", f"sub{s:02d}", f"EP{k}", k % 3])
                image = rng.integers(0, 256, (28, 28, 3), dtype=np.uint8)
                Image.fromarray(image).save(tmp_path / "flow28" / f"sub{s:02d}_EP{k} .png")
    return tmp_path


def test_folds_trained_side_by_side_predict_as_one_at_a_time(flow_images, tmp_path):
    def config(workers):
        with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
            return compose(
                "config",
                overrides=[
                    "dataset=megc2019_flow",
                    "model=ststnet",
                    f"dataset.root={flow_images}",
                    "trainer.epochs=3",
                    "trainer.batch_size=8",
                    "trainer.progress=false",
                    f"trainer.fold_workers={workers}",
                ],
            )

    run(config(1), tmp_path / "one")
    run(config(2), tmp_path / "two")
    for fold in range(4):
        name = f"folds/fold{fold:03d}.csv"
        assert (tmp_path / "one" / name).read_text() == (tmp_path / "two" / name).read_text()
    with pytest.raises(ValueError, match="needs trainer.in_memory"):
        run(tiny_config(tmp_path, "trainer.fold_workers=2", "trainer.in_memory=false"), tmp_path / "three")


def test_results_name_the_code_that_trained_not_the_code_checked_out_at_the_end(tmp_path, monkeypatch):
    import mer.experiment
    import mer.provenance

    monkeypatch.setattr(mer.experiment, "git_commit", lambda: "commit-at-start")
    monkeypatch.setattr(mer.provenance, "git_commit", lambda: "commit-at-end")
    results = run(tiny_config(tmp_path, "evaluation.max_folds=1"), tmp_path / "run")
    assert results["git_commit"] == "commit-at-start"
    assert json.loads((tmp_path / "run" / "folds" / "plan.json").read_text())["git_commit"] == "commit-at-start"


def test_relabelling_changes_training_subjects_only_and_the_report_counts_it(tmp_path):
    run_dir = tmp_path / "run"
    overrides = [
        "methods.confidence.enabled=true",
        "methods.confidence.relabel_start=0",
        "methods.confidence.relabel_fraction=0.5",
        "methods.confidence.relabel_margin=-2",  # every candidate moves: the most changes the fold can make
        "trainer.epochs=2",
    ]
    results = run(tiny_config(tmp_path, *overrides), run_dir)
    total = 0
    for fold, subject in enumerate(("sub01", "sub02", "sub03")):
        changed = json.loads((run_dir / f"folds/fold{fold:03d}.relabelled.json").read_text())
        assert changed and all(row["subject"] != subject and row["from"] != row["to"] for row in changed)
        total += len(changed)
    assert results["relabelled"]["total"] == total == sum(results["relabelled"]["pairs"].values())
    assert "Re-labelled training samples" in (run_dir / "report.md").read_text()
    run(tiny_config(tmp_path), tmp_path / "plain")
    labels = lambda d: [(r["clip"], r["label"]) for r in csv.DictReader((d / "predictions.csv").open())]  # noqa: E731
    assert labels(run_dir) == labels(tmp_path / "plain")  # held-out subjects are scored on their own labels


def test_au_head_predictions_are_scored_in_the_report(tmp_path):
    run_dir = tmp_path / "run"
    results = run(tiny_config(tmp_path, "methods.au.enabled=true", "methods.au.min_count=1"), run_dir)
    rows = list(csv.DictReader((run_dir / "predictions.csv").open()))
    assert list(rows[0])[-2:] == ["aus", "aus_predicted"] and all(r["aus"] for r in rows)
    au = results["action_units"]
    assert au["num_samples"] == 12 and set(au["f1"]) >= {a for r in rows for a in r["aus"].split("+")}
    assert "Action units (auxiliary head)" in (run_dir / "report.md").read_text()


def test_final_fit_refuses_dan_before_training(tmp_path):
    with pytest.raises(ValueError, match="cannot rebuild DAN"):
        run(tiny_config(tmp_path, "trainer.final_fit=true", "methods.dan.enabled=true"), tmp_path / "run")


@pytest.mark.parametrize("switch", ["uncertainty", "eac", "au", "confidence", "dan"])
def test_each_method_runs_a_fold_of_the_synthetic_set(tmp_path, switch):
    overrides = [f"methods.{switch}.enabled=true", "methods.au.min_count=1", "evaluation.max_folds=1"]
    results = run(tiny_config(tmp_path, *overrides), tmp_path / "run")
    assert results["num_folds"] == 1 and results["num_samples"] == 4
    resolved = (tmp_path / "run" / "config_resolved.yaml").read_text()
    assert f"{switch}:\n    enabled: true" in resolved


COMPOSITE = SHARED_DATA / "megc2019_composite"


@pytest.mark.skipif(not (COMPOSITE / "samples.csv").is_file(), reason="../shared MEGC 2019 composite absent")
def test_leave_one_database_out_on_the_composite_reports_each_database(tmp_path):
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose(
            "config",
            overrides=[
                "dataset=megc2019_flow",
                "model=ststnet",
                "evaluation=lodo",
                f"dataset.root={COMPOSITE}",
                "trainer.epochs=2",
                "trainer.progress=false",
            ],
        )
    results = run(cfg, tmp_path / "run")
    assert results["num_folds"] == 3 and results["num_samples"] == 442
    assert {k: v["num_samples"] for k, v in results["per_dataset"].items()} == {"casme2": 145, "samm": 133, "smic": 164}
    assert results["protocol_description"].startswith("leave-one-database-out over 3 databases (casme2, samm, smic)")
    rows = list(csv.DictReader((tmp_path / "run" / "predictions.csv").open()))
    assert {r["dataset"]: r["fold"] for r in rows} == {"casme2": "fold000", "samm": "fold001", "smic": "fold002"}


def test_several_intervals_of_one_video_are_predicted_and_named_apart(tmp_path):
    """CAS(ME)^3's layout: one video, several micro-expressions; predictions.csv keeps them apart."""
    from tests.conftest import write_frame_folder

    rows = ["Subject,Filename,Onset,Apex,Offset,AU,Objective class,emotion"]
    for subject in ("spNO.1", "spNO.2", "spNO.3"):
        write_frame_folder(tmp_path / "A" / subject / "a" / "color", range(1, 41), prefix="", size=24)
        rows += [
            f"{subject},a,1,5,12,4,1,happy",
            f"{subject},a,20,26,33,4,1,disgust",
            f"{subject},a,34,36,40,4,1,surprise",
        ]
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose(
            "config",
            overrides=[
                "dataset=casme3",
                f"dataset.root={tmp_path / 'A'}",
                f"dataset.annotations={tmp_path / 'labels.csv'}",
                "dataset/classes=megc3",
                *tiny_clip_run(tmp_path / "cache"),
            ],
        )
    results = run(cfg, tmp_path / "run")
    (note,) = results["sample_notes"]  # what the reader did with the sheet reaches the results and the report
    assert "errata casme3.yaml are not applied" in note and note in (tmp_path / "run" / "report.md").read_text()
    ids = [r["id"] for r in csv.DictReader((tmp_path / "run" / "predictions.csv").open())]
    assert len(ids) == 9 and len(set(ids)) == 9
    assert "spNO.2/a/color#20-33" in ids and "spNO.2/a/color#34-40" in ids


def test_a_final_model_classifies_every_sample_of_a_configured_dataset(tmp_path, capsys):
    """``mer.predict CHECKPOINT dataset=...``: the dataset's own samples, intervals and ids."""
    from mer.predict import main as predict_main

    run_dir = tmp_path / "run"
    overrides = ["trainer.final_fit=true", "evaluation.max_folds=1", f"trainer.clip_cache_dir={tmp_path / 'clips'}"]
    run(tiny_config(tmp_path, *overrides), run_dir)
    dataset = [
        f"dataset.cache_dir={tmp_path / 'cache'}",
        "dataset.num_subjects=3",
        "dataset.clips_per_subject=4",
        "dataset.frame_size=32",
    ]
    out = tmp_path / "predicted.csv"
    assert predict_main([str(run_dir / "final_model.pt"), *dataset, "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    trained = list(csv.DictReader((run_dir / "predictions.csv").open()))  # fold 0's held-out subject
    assert len(rows) == 12 and {r["id"] for r in trained} < {r["id"] for r in rows}
    assert list(rows[0])[:5] == ["id", "clip", "subject", "emotion", "prediction"]
    for r in rows:
        p = {c: float(r[f"p_{c}"]) for c in ("negative", "positive", "surprise")}
        assert sum(p.values()) == pytest.approx(1, abs=2e-3) and r["prediction"] == max(p, key=p.get)
    assert predict_main([str(run_dir / "final_model.pt"), "dataset.roots=x"]) == 2
    assert "there is no key dataset.roots" in capsys.readouterr().err


@pytest.mark.parametrize(
    "override, named",
    [
        ("trainer.fuse=many", "trainer.fuse='many'"),
        ("trainer.fuse=0", "trainer.fuse=0"),
        ("trainer.last_batch=drop", "trainer.last_batch='drop'"),
        ("trainer.device=gpu", "trainer.device='gpu'"),
    ],
)
def test_a_wrong_trainer_value_is_named_before_anything_is_written(tmp_path, override, named):
    with pytest.raises(ConfigError, match=re.escape(named)):
        run(tiny_config(tmp_path, override), tmp_path / "run")
    assert not (tmp_path / "run" / "config_resolved.yaml").exists()
