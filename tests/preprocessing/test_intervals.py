"""Spotting micro-expression intervals in a long synthetic video with blinks, talking and head turns
(known intervals), through the library and through ``python -m mer.spot``; and on real footage."""

import csv

import pytest

from mer.datasets.synthetic_long import generate_long
from mer.preprocessing.intervals import spot_intervals, video_motion
from mer.preprocessing.spotting_metric import score
from mer.spot import main as spot_main
from tests.conftest import SHARED_DATA

FPS = 100


def make_video(folder, seconds, expressions):
    root = generate_long(folder, num_videos=1, seconds=seconds, seed=5, expressions=expressions)
    return root, list(csv.DictReader((root / "annotations.csv").open()))


def test_spotting_finds_the_true_intervals_among_distractors(tmp_path):
    """12 s at 100 fps holding three micro-expressions among blinks, talking and head turns."""
    root, rows = make_video(tmp_path / "data", 12, 3)
    motion = video_motion(root / rows[0]["clip"], FPS, cache_dir=tmp_path, progress=False)
    found = spot_intervals(motion, FPS)
    truth = [(int(r["onset"]), int(r["offset"])) for r in rows]
    result = score({"v": [(i.onset, i.offset) for i in found]}, {"v": truth})
    assert len(truth) == 3 and result.f1 >= 0.8, (result, found, truth)
    assert all(i.onset <= i.apex <= i.offset for i in found)


def untrained_model(tmp_path):
    """A ``final_model.pt`` as ``trainer.final_fit=true`` writes it (weights untrained: the path is tested)."""
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from mer.checkpoint import save_checkpoint
    from mer.compose import CONFIGS
    from mer.config import register

    register()
    overrides = ["dataset.input_size=[16,16]", f"dataset.cache_dir={tmp_path}"]
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose("config", overrides=overrides)
    classes = list(cfg.dataset.classes.names)
    path = tmp_path / "final_model.pt"
    save_checkpoint(
        path, instantiate(cfg.model, num_classes=len(classes)), OmegaConf.to_container(cfg, resolve=True), classes
    )
    return path, classes


def test_the_cli_spots_and_classifies_a_dataset_and_scores_it(tmp_path, capsys):
    root, rows = make_video(tmp_path / "data", 6, 1)
    model, classes = untrained_model(tmp_path)
    intervals = tmp_path / "intervals.csv"
    dataset = ["dataset=csv", f"dataset.root={root}", f"dataset.annotations={root / 'annotations.csv'}"]
    argv = [*dataset, f"trainer.clip_cache_dir={tmp_path / 'cache'}", "--out", str(intervals), "--model", str(model)]
    assert spot_main(argv) == 0
    assert "MEGC spotting: 1 hits of 1 spotted and 1 true" in capsys.readouterr().out
    (written,) = csv.DictReader(intervals.open())
    assert list(written) == ["video", "onset", "apex", "offset", "score", "class", "probability"]
    assert written["video"] == str(root / rows[0]["clip"])
    assert written["class"] in classes and 0 < float(written["probability"]) <= 1
    assert int(written["onset"]) <= int(rows[0]["apex"]) <= int(written["offset"])
    assert spot_main([str(tmp_path / "missing.mp4")]) == 2
    assert "missing.mp4: clip not found" in capsys.readouterr().err


REAL = SHARED_DATA / "real_video"


@pytest.mark.skipif(not (REAL / "single_face.mp4").is_file(), reason="../shared/data/real_video not present")
def test_real_footage_runs_end_to_end_and_a_video_without_a_face_spots_nothing(tmp_path, caplog, capsys):
    for name in ("single_face.mp4", "no_face.mp4"):
        assert spot_main([str(REAL / name), "--out", str(tmp_path / f"{name}.csv")]) == 0
    assert list(csv.DictReader((tmp_path / "no_face.mp4.csv").open())) == []
    assert "no_face.mp4: no face found" in caplog.text
    assert "no interval spotted in 1 video(s)" in capsys.readouterr().err  # not a bare CSV header
    for row in csv.DictReader((tmp_path / "single_face.mp4.csv").open()):
        assert 0 <= int(row["onset"]) <= int(row["apex"]) <= int(row["offset"]) <= 71


def test_an_intervals_apex_by_the_clip_spotter_follows_the_hold_not_the_turn():
    """Out by frame 10, held to 30, back by 40: the excursion peaks where the skin turns, the clip
    spotter's apex curve over onset..offset scores the hold (the prior breaks the tie near its mean)."""
    import numpy as np

    from mer.preprocessing.intervals import curve_apex
    from mer.preprocessing.regions import REGIONS

    t = np.arange(60, dtype=float)
    held = np.clip((t - 5) / 5, 0, 1) * np.clip((40 - t) / 10, 0, 1)
    displacement = np.zeros((60, len(REGIONS), 2))
    displacement[:, 0, 1] = -2 * held
    displacement += 7.0  # where the video's summed steps stand: only motion from the onset counts
    apex = curve_apex(displacement, 3, 42, fallback=-1)
    assert 12 <= apex <= 28, apex
    assert curve_apex(displacement, 3, 4, fallback=-1) == -1
