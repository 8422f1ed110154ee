"""Scale-out: folds as separate jobs (Hydra multirun with the joblib and submitit_local launchers),
gathered, give exactly the single-process LOSO's pooled predictions; one fold data-parallel (torchrun)."""

import csv
import os
import subprocess
import sys

import pytest

from tests.conftest import SHARED_DATA

COMPOSITE = SHARED_DATA / "megc2019_composite"
needs_composite = pytest.mark.skipif(not (COMPOSITE / "samples.csv").is_file(), reason="real composite absent")


@pytest.fixture(scope="module")
def subset(tmp_path_factory):
    """Three subjects of the real composite (one of each source dataset)."""
    rows = list(csv.DictReader((COMPOSITE / "samples.csv").open()))
    first = {}
    for r in rows:
        first.setdefault(r["dataset"], r["sub"])
    keep = set(first.items())
    path = tmp_path_factory.mktemp("subset") / "samples.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(r for r in rows if (r["dataset"], r["sub"]) in keep)
    return path


def mer(*args, cwd):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    done = subprocess.run([sys.executable, "-m", *args], cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]


def common(subset):
    return [
        "dataset=megc2019_flow",
        "model=ststnet",
        f"dataset.root={COMPOSITE}",
        f"dataset.samples.samples={subset}",
        "trainer.epochs=3",
        "trainer.num_threads=1",
        "trainer.progress=false",
    ]


def predictions(run_dir):
    return sorted(tuple(r.values()) for r in csv.DictReader((run_dir / "predictions.csv").open()))


@needs_composite
def test_fold_jobs_gathered_equal_the_single_process_loso(subset, tmp_path):
    mer("mer.train", *common(subset), f"hydra.run.dir={tmp_path / 'single'}", cwd=tmp_path)
    for launcher in ("joblib", "submitit_local"):
        sweep = tmp_path / launcher
        mer(
            "mer.train",
            "-m",
            *common(subset),
            "evaluation.fold=range(0,3)",
            f"hydra/launcher={launcher}",
            f"hydra.sweep.dir={sweep}",
            cwd=tmp_path,
        )
        mer("mer.report", "--gather", str(sweep), cwd=tmp_path)
        assert predictions(sweep) == predictions(tmp_path / "single"), launcher
        assert len(predictions(sweep)) > 10


def test_one_fold_trains_data_parallel_under_torchrun(tmp_path):
    """Two DDP processes on the tiny synthetic set: the writer's fold file holds the fold's predictions."""
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "-m", "mer.train"]
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "MER_CACHE": str(tmp_path / "cache")}
    overrides = [
        "dataset.num_subjects=3",
        "dataset.clips_per_subject=4",
        "dataset.frame_size=32",
        "dataset.input_size=[16,16]",
        "trainer.epochs=1",
        "trainer.batch_size=4",
        "trainer.num_threads=1",
        "trainer.progress=false",
        "evaluation.fold=1",
        f"hydra.run.dir={tmp_path / 'run'}",
    ]
    done = subprocess.run([*torchrun, *overrides], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = list(csv.DictReader((tmp_path / "run" / "folds" / "fold001.csv").open()))
    assert len(rows) == 4 and {r["subject"] for r in rows} == {"sub02"}
    assert not (tmp_path / "run" / "folds" / "fold000.csv").exists()
