"""Every frame a run's input is made from is decoded before any fold trains: a truncated, empty or
missing frame is named by its sheet line, one line each, and the run stops (or, with
``dataset.samples.on_bad_row=skip``, leaves the sample out and notes it)."""

import shutil

import pytest
from hydra import compose, initialize_config_dir

from mer.data.sampling import sample_frames
from mer.experiment import Experiment
from tests.conftest import CONFIGS, SHARED_DATA, tiny_clip_run
from tests.test_train import mer_train

SUBSET = SHARED_DATA / "casme2_subset"
#: clip, onset, apex, offset, emotion (from the subset's annotations.csv); the first three get broken
CLIPS = [
    ("sub03/EP07_04", 21, 81, 106, "disgust"),
    ("sub06/EP01_01", 81, 111, 136, "happiness"),
    ("sub12/EP02_05", 41, 61, 140, "surprise"),
    ("sub14/EP09_03", 6, 29, 41, "happiness"),
    ("sub15/EP03_02", 16, 49, 76, "happiness"),
]
pytestmark = pytest.mark.skipif(not (SUBSET / "Cropped").is_dir(), reason="../shared/data/casme2_subset absent")


@pytest.fixture
def broken_copy(tmp_path):
    """Five real clips, onset..offset: the first's onset JPEG truncated, the second's offset JPEG
    empty, a key frame inside the third's onset..offset missing."""
    root = tmp_path / "Cropped"
    for clip, onset, _, offset, _ in CLIPS:
        (root / clip).mkdir(parents=True)
        for n in range(onset, offset + 1):
            shutil.copy(SUBSET / "Cropped" / clip / f"reg_img{n}.jpg", root / clip)
    truncated = root / CLIPS[0][0] / f"reg_img{CLIPS[0][1]}.jpg"
    truncated.write_bytes(truncated.read_bytes()[: truncated.stat().st_size // 2])
    (root / CLIPS[1][0] / f"reg_img{CLIPS[1][3]}.jpg").write_bytes(b"")
    clip, onset, apex, offset, _ = CLIPS[2]
    middle = sample_frames("uniform", onset=onset, apex=apex, offset=offset, num_frames=4)[1]
    (root / clip / f"reg_img{middle}.jpg").unlink()
    rows = [f"{c.split('/')[0]},{c},{on},{ap},{off},{emotion}" for c, on, ap, off, emotion in CLIPS]
    (tmp_path / "annotations.csv").write_text("\n".join(["subject,clip,onset,apex,offset,emotion", *rows, ""]))
    return root, tmp_path / "annotations.csv", middle


def overrides(root, sheet, cache):
    return ["dataset=csv", f"dataset.root={root}", f"dataset.annotations={sheet}", *tiny_clip_run(cache)]


def test_frames_that_do_not_decode_stop_the_run_before_training_one_line_each(broken_copy, tmp_path):
    root, sheet, middle = broken_copy
    done = mer_train(tmp_path / "run", *overrides(root, sheet, tmp_path / "cache"), cwd=tmp_path)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    summary, *lines = done.stderr[done.stderr.index("mer.train: ") :].strip().splitlines()  # after progress bars
    assert "3 sample(s) with frames that do not decode" in summary and "on_bad_row=skip" in summary
    assert len(lines) == 3
    assert lines[0].startswith(f"{sheet}, line 2: ") and "reg_img21.jpg: unreadable image" in lines[0]
    assert lines[1].startswith(f"{sheet}, line 3: ") and "reg_img136.jpg: unreadable image" in lines[1]
    assert lines[2].startswith(f"{sheet}, line 4: ") and f"frame {middle} is missing from the folder" in lines[2]
    assert not (tmp_path / "run" / "folds").exists()  # no fold planned, none trained


def test_with_on_bad_row_skip_such_samples_are_left_out_and_noted(broken_copy, tmp_path):
    root, sheet, _ = broken_copy
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        skip = "dataset.samples.on_bad_row=skip"
        cfg = compose("config", overrides=[*overrides(root, sheet, tmp_path / "cache"), skip])
    experiment = Experiment.from_config(cfg)
    assert [s.clip for s in experiment.samples] == [c[0] for c in CLIPS[3:]]
    assert [n.split(": skipped, ")[0] for n in experiment.sample_notes] == [f"{sheet}, line {n}" for n in (2, 3, 4)]
