"""``python -m mer.predict`` on new footage sees what training saw: the checkpoint records its face
stage and input, a clip goes through them, and footage with no face is an error, never a class."""

import csv

import pytest
import torch

from mer.data.face_stage import FaceStage
from mer.predict import main as predict_main
from tests.conftest import SHARED_DATA
from tests.test_train import tiny_config

VIDEOS = SHARED_DATA / "real_video"
needs_videos = pytest.mark.skipif(not (VIDEOS / "no_face.mp4").is_file(), reason="../shared/data/real_video absent")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A final model of one epoch on tiny synthetic clips (frames as generated: face stage none)."""
    from mer.experiment import run

    tmp = tmp_path_factory.mktemp("trained")
    overrides = ["trainer.final_fit=true", "evaluation.max_folds=1", f"trainer.clip_cache_dir={tmp / 'clips'}"]
    run(tiny_config(tmp, *overrides), tmp / "run")
    return tmp / "run" / "final_model.pt", tmp


def test_the_checkpoint_records_the_face_stage_and_input_training_applied(trained):
    saved = torch.load(trained[0], map_location="cpu", weights_only=True)
    assert saved["face"] == {"mode": "none", "size": 224}
    assert saved["input"]["kind"] == "clips" and saved["input"]["input_size"] == [16, 16]
    assert saved["input"]["sampling"]["num_frames"] == 8 and saved["input"]["normalization"]["subtract_first_frame"]


@needs_videos
def test_a_clip_without_a_face_is_one_line_naming_it_never_a_class(trained, capsys):
    assert predict_main([str(trained[0]), str(VIDEOS / "no_face.mp4"), "--onset", "0", "--offset", "20"]) == 2
    captured = capsys.readouterr()
    assert "predicted" not in captured.out
    assert captured.err.count("\n") == 1 and "no_face.mp4" in captured.err and "no face" in captured.err
    assert "Traceback" not in captured.err


@needs_videos
def test_new_footage_is_cut_to_its_face_before_the_model_sees_it(trained, capsys, monkeypatch):
    """Trained on frames as generated (whole faces), the 640 x 360 video is aligned to its face."""
    seen, apply = [], FaceStage.apply

    def spy(self, sample, frames):
        faces = apply(self, sample, frames)
        seen.append((self.mode, frames.shape[1:3], faces.shape[1:3]))
        return faces

    monkeypatch.setattr(FaceStage, "apply", spy)
    assert predict_main([str(trained[0]), str(VIDEOS / "single_face.mp4"), "--onset", "0", "--offset", "20"]) == 0
    assert seen == [("align", (360, 640), (224, 224))]
    assert capsys.readouterr().out.splitlines()[-1].startswith("predicted: ")


def test_a_checkpoint_saved_before_the_record_warns_once_and_reads_its_config(trained, tmp_path, capsys, caplog):
    path, tmp = trained
    saved = torch.load(path, map_location="cpu", weights_only=True)
    del saved["face"], saved["input"]
    torch.save(saved, tmp_path / "old.pt")
    clip = next((tmp / "cache" / "synthetic").glob("*/clips/sub01/sub01_01.mp4"))
    assert predict_main([str(tmp_path / "old.pt"), str(clip), "--face", "none"]) == 0
    (warning,) = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert "old.pt: saved without its face stage and input; read from its config.dataset" in warning
    assert capsys.readouterr().out.splitlines()[-1].startswith("predicted: ")


@needs_videos
def test_a_dataset_sample_without_a_face_is_a_row_saying_so(trained, tmp_path):
    root = tmp_path / "footage"
    root.mkdir()
    for name in ("single_face", "no_face"):
        (root / f"{name}.mp4").symlink_to(VIDEOS / f"{name}.mp4")
    (root / "annotations.csv").write_text(
        "subject,clip,onset,apex,offset,emotion\ns1,single_face.mp4,0,10,20,happiness\ns2,no_face.mp4,0,10,20,anger\n"
    )
    out = tmp_path / "predicted.csv"
    dataset = ["dataset=csv", f"dataset.root={root}", "dataset.face.mode=crop"]
    assert predict_main([str(trained[0]), *dataset, "--out", str(out)]) == 0
    rows = {r["clip"]: r for r in csv.DictReader(out.open())}
    assert rows["no_face.mp4"]["prediction"] == "no face" and rows["no_face.mp4"]["p_surprise"] == ""
    assert rows["single_face.mp4"]["prediction"] in ("negative", "positive", "surprise")
