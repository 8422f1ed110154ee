"""Each flow model trains and predicts one fold of the MEGC 2019 composite (skipped without the data)."""

import csv

import pytest
from hydra import compose, initialize_config_dir

from mer.experiment import run
from tests.conftest import CONFIGS, SHARED_DATA

COMPOSITE = SHARED_DATA / "megc2019_composite"
#: one fold each, with the published sizes except where a fold would take minutes on a CPU
ONE_FOLD = {
    "htnet": ["model.dim=16", "model.block_repeats=[1,1,1]"],
    "dual_inception": ["trainer.batch_size=64"],
    "rcn": [],
    "ensemble_flow": ["~model.members.htnet"],
}


@pytest.mark.skipif(not (COMPOSITE / "samples.csv").is_file(), reason="../shared MEGC 2019 composite absent")
@pytest.mark.parametrize("model", sorted(ONE_FOLD))
def test_one_fold_of_the_composite(model, tmp_path):
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose(
            "config",
            overrides=[
                "dataset=megc2019_flow",
                f"model={model}",
                f"dataset.root={COMPOSITE}",
                "evaluation.max_folds=1",
                "trainer.epochs=1",
                "trainer.progress=false",
                "trainer.tensorboard=false",
                *ONE_FOLD[model],
            ],
        )
    results = run(cfg, tmp_path / "run")
    assert results["num_folds"] == 1 and 0 <= results["uf1"] <= 1
    rows = list(csv.DictReader((tmp_path / "run" / "predictions.csv").open()))
    assert rows and len({r["subject"] for r in rows}) == 1
    curve = list(csv.DictReader((tmp_path / "run" / "folds" / "fold000.curve.csv").open()))
    assert curve and all(0 <= float(r["accuracy"]) <= 1 for r in curve), "the ensemble too logs its accuracy"
