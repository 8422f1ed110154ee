"""The face stage as training meets it: every clip located before training, no face named by its line."""

import pytest

from mer.data.annotations import read_canonical_csv
from mer.data.build import build_dataset
from mer.data.face_stage import FaceStage
from mer.data.faces import NoFaceError
from tests.conftest import SHARED_DATA

VIDEOS = SHARED_DATA / "real_video"
pytestmark = pytest.mark.skipif(not (VIDEOS / "no_face.mp4").is_file(), reason="../shared real videos absent")


def two_videos(tmp_path):
    sheet = tmp_path / "clips.csv"
    sheet.write_text(
        "subject,clip,onset,apex,offset,emotion\ns1,single_face.mp4,0,30,60,happiness\ns2,no_face.mp4,0,,20,surprise\n"
    )
    return sheet, read_canonical_csv(sheet, root=VIDEOS, classes=["happiness", "surprise"], dataset="videos")


def test_a_clip_without_a_face_stops_the_run_naming_its_sheet_line_unless_told_to_skip(tmp_path):
    sheet, samples = two_videos(tmp_path)
    with pytest.raises(NoFaceError, match=rf"no_face.mp4.*{sheet.name}, line 3.*on_missing=skip"):
        FaceStage(mode="align", size=112, cache_dir=tmp_path).locate_all(samples)
    kept = FaceStage(mode="align", size=112, cache_dir=tmp_path, on_missing="skip").locate_all(samples)
    assert [s.clip for s in kept] == ["single_face.mp4"]


def test_aligned_clips_and_flow_clips_come_from_the_face_not_the_whole_frame(tmp_path):
    _, samples = two_videos(tmp_path)
    face = {"mode": "align", "size": 112}
    base = {"sampling": {"strategy": "uniform", "num_frames": 4}, "face": face, "flow_algorithm": "farneback"}
    clips = build_dataset(samples[:1], {**base, "kind": "clips", "input_size": [64, 64]}, cache_dir=tmp_path)
    flow = build_dataset(samples[:1], {**base, "kind": "flow_clip", "input_size": [28, 28]}, cache_dir=tmp_path)
    aligned, _ = clips[0]
    assert aligned.shape == (4, 64, 64, 3) and aligned.float().std() > 10
    motion, _ = flow[0]
    assert motion.shape == (4, 28, 28, 3) and (motion[1:, ..., 1].float() - 128).abs().max() > 20  # the smile moves
    assert len(list((tmp_path / "faces").glob("*.npz"))) == 1  # located once, shared by both inputs
