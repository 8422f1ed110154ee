"""Spotting micro-expression intervals in a long synthetic video with blinks, talking and head turns
(known intervals), through the library and through ``python -m mer.spot``; and on real footage."""

import csv

import numpy as np
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


def test_the_cli_on_the_dataset_scores_and_on_one_video_writes_the_intervals(tmp_path, capsys):
    root, rows = make_video(tmp_path / "data", 6, 1)
    cache = f"trainer.clip_cache_dir={tmp_path / 'cache'}"
    dataset = ["dataset=csv", f"dataset.root={root}", f"dataset.annotations={root / 'annotations.csv'}", cache]
    assert spot_main(dataset) == 0
    out = capsys.readouterr().out
    assert "MEGC spotting:" in out and "F1" in out
    intervals = tmp_path / "intervals.csv"
    assert spot_main([str(root / rows[0]["clip"]), "--out", str(intervals), "--cache", str(tmp_path / "cache")]) == 0
    written = list(csv.DictReader(intervals.open()))
    assert list(written[0]) == ["video", "onset", "apex", "offset", "score"]
    assert {r["video"] for r in written} == {str(root / rows[0]["clip"])}
    assert spot_main([str(tmp_path / "missing.mp4")]) == 2
    assert "missing.mp4" in capsys.readouterr().err


REAL = SHARED_DATA / "real_video"


@pytest.mark.skipif(not (REAL / "single_face.mp4").is_file(), reason="../shared/data/real_video not present")
def test_real_footage_runs_end_to_end_and_a_video_without_a_face_spots_nothing(tmp_path, capsys):
    for name in ("single_face.mp4", "no_face.mp4"):
        assert spot_main([str(REAL / name), "--out", str(tmp_path / f"{name}.csv")]) == 0
    assert list(csv.DictReader((tmp_path / "no_face.mp4.csv").open())) == []
    assert np.all([int(r["onset"]) >= 0 for r in csv.DictReader((tmp_path / "single_face.mp4.csv").open())])
