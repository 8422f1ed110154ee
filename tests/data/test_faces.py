"""The face stage: an offline landmarker, one similarity per clip, and its cache."""

from __future__ import annotations

import csv
from importlib import metadata

import cv2
import numpy as np
import pytest

from mer.data import faces
from mer.data.frames import open_frames
from tests.conftest import SHARED_DATA, write_frame_folder

CASME = SHARED_DATA / "casme2_subset"
VIDEOS = SHARED_DATA / "real_video"
OPENCV_DISTRIBUTIONS = (
    "opencv-python",
    "opencv-contrib-python",
    "opencv-python-headless",
    "opencv-contrib-python-headless",
)

needs_casme = pytest.mark.skipif(not (CASME / "annotations.csv").is_file(), reason="../shared CASME II subset absent")
needs_videos = pytest.mark.skipif(not (VIDEOS / "single_face.mp4").is_file(), reason="../shared real videos absent")


def casme_onsets() -> list[tuple[str, int]]:
    with open(CASME / "annotations.csv", newline="") as handle:
        return [(row["clip"], int(row["onset"])) for row in csv.DictReader(handle)]


def canonical_eyes(size: int) -> np.ndarray:
    return faces.CANONICAL[:2] * size


def test_one_opencv_4_with_contrib_and_the_landmark_model_installed():
    installed = []
    for name in OPENCV_DISTRIBUTIONS:
        try:
            installed.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pass
    assert len(installed) == 1, f"exactly one OpenCV distribution must write cv2, found {installed}"
    assert int(cv2.__version__.split(".")[0]) < 5, cv2.__version__
    assert hasattr(cv2, "optflow") and hasattr(cv2.optflow, "DualTVL1OpticalFlow_create")
    assert faces.model_path().stat().st_size > 90_000_000
    faces._landmarker()  # checks the sha256: a truncated or swapped model fails here, with no network


@needs_casme
def test_landmarks_for_a_real_frame():
    frame = open_frames(CASME / "Cropped" / "sub03" / "EP01_2").read([51])[0]
    landmarks = faces.detect_landmarks(frame)
    assert landmarks.shape == (68, 2) and landmarks.dtype == np.float32
    h, w = frame.shape[:2]
    assert (landmarks >= -5).all() and (landmarks[:, 0] < w + 5).all() and (landmarks[:, 1] < h + 5).all()
    left, right = faces.eye_centres(landmarks)
    assert 100 < right[0] - left[0] < 160  # CASME II crops: about 131 px between the eyes


@needs_casme
def test_every_casme_onset_aligns_eyes_onto_the_canonical_positions():
    for clip, onset in casme_onsets():
        track = faces.face_track(CASME / "Cropped" / clip, onset, mode="align", size=128, cache_dir=None)
        eyes = faces.transform_points(faces.eye_centres(track.landmarks), track.matrix)
        assert np.abs(eyes - canonical_eyes(128)).max() < 2.5, clip
        points = faces.transform_points(track.landmarks, track.matrix)
        assert (points > 0).all() and (points < 128).all(), f"{clip}: part of the face falls outside"


ALIGNED_CLIPS = [(CASME / "Cropped" / "sub12" / "EP16_02", 136), (VIDEOS / "single_face.mp4", 0)]


@needs_casme
@needs_videos
@pytest.mark.parametrize("clip, onset", ALIGNED_CLIPS)
def test_aligned_frames_show_the_eyes_where_the_transform_puts_them(clip, onset):
    """The warp itself, not only the fit: landmarks found again on the aligned frames sit where the
    matrix maps each frame's own landmarks, and on the template for the onset frame."""
    track = faces.face_track(clip, onset, mode="align", size=224, cache_dir=None)
    frames = open_frames(clip).read([onset, onset + 5])
    aligned = track.apply(frames)
    assert aligned.shape == (2, 224, 224, 3) and aligned.dtype == np.uint8
    for frame, face in zip(frames, aligned, strict=True):
        mapped = faces.transform_points(faces.eye_centres(faces.detect_landmarks(frame)), track.matrix)
        assert np.abs(faces.eye_centres(faces.detect_landmarks(face)) - mapped).max() < 2
    onset_eyes = faces.eye_centres(faces.detect_landmarks(aligned[0]))
    assert np.abs(onset_eyes - canonical_eyes(224)).max() < 3.5


@needs_videos
def test_faces_found_on_frames_of_a_real_video():
    frames = open_frames(VIDEOS / "single_face.mp4").read(list(range(0, 72, 12)))
    for frame in frames:
        landmarks = faces.detect_landmarks(frame)
        assert landmarks is not None
        eyes = faces.transform_points(faces.eye_centres(landmarks), faces.similarity_to_canonical(landmarks, 128))
        assert np.abs(eyes - canonical_eyes(128)).max() < 2.5


@needs_videos
def test_a_video_without_a_face_names_the_file(tmp_path):
    with pytest.raises(faces.NoFaceError, match="no_face.mp4"):
        faces.face_track(VIDEOS / "no_face.mp4", 0, mode="align", size=128, cache_dir=tmp_path)
    assert not list(tmp_path.rglob("*.npz"))


def rotation_scale(angle: float, scale: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return scale * np.array([[c, -s], [s, c]])


def test_fit_similarity_recovers_a_known_transform():
    rng = np.random.default_rng(0)
    points = rng.uniform(0, 300, (68, 2))
    truth = np.hstack([rotation_scale(0.3, 0.42), [[17.0], [-9.5]]])
    noisy = faces.transform_points(points, truth) + rng.normal(0, 0.05, (68, 2))
    fitted = faces.fit_similarity(points, noisy)
    assert np.abs(fitted - truth).max() < 0.02
    assert np.linalg.det(fitted[:, :2]) > 0  # never a reflection


def test_similarity_to_canonical_inverts_how_the_face_was_placed():
    """Landmarks made by moving a canonical face: the fit must move them back exactly."""
    size = 128
    anchors = faces.CANONICAL * size
    landmarks = np.zeros((68, 2))
    landmarks[list(faces.RIGHT_EYE)] = anchors[0] + np.array([[-8, 0], [-4, -3], [4, -3], [8, 0], [4, 3], [-4, 3]])
    landmarks[list(faces.LEFT_EYE)] = anchors[1] + np.array([[-8, 0], [-4, -3], [4, -3], [8, 0], [4, 3], [-4, 3]])
    landmarks[faces.NOSE_TIP] = anchors[2]
    placed = np.hstack([rotation_scale(-0.2, 2.5), [[40.0], [75.0]]])
    moved = faces.transform_points(landmarks, placed)
    matrix = faces.similarity_to_canonical(moved, size)
    assert np.abs(faces.transform_points(moved, matrix) - landmarks).max() < 1e-6


def test_crop_keeps_the_landmarks_inside_with_margin():
    landmarks = np.array([[50.0, 40.0], [150.0, 60.0], [100.0, 180.0]])
    frames = np.random.default_rng(0).integers(0, 255, (3, 240, 320, 3), dtype=np.uint8)
    cropped = faces.crop_frames(frames, landmarks, 64)
    assert cropped.shape == (3, 64, 64, 3) and cropped.dtype == np.uint8
    points = faces.transform_points(landmarks, faces.crop_matrix(landmarks, 64))
    assert points.min() > 64 * faces.CROP_MARGIN / (1 + 2 * faces.CROP_MARGIN) - 1e-6
    assert points.max() < 64 - 64 * faces.CROP_MARGIN / (1 + 2 * faces.CROP_MARGIN) + 1e-6


def test_mode_none_reads_nothing_and_changes_nothing(tmp_path):
    frames = np.zeros((2, 10, 12, 3), np.uint8)
    track = faces.face_track(tmp_path / "absent", 0, mode="none", size=128, cache_dir=tmp_path)
    assert track.apply(frames) is frames


def test_unknown_mode_is_refused(tmp_path):
    with pytest.raises(ValueError, match="crop, align"):
        faces.face_track(tmp_path, 0, mode="warp", size=128, cache_dir=tmp_path)


@pytest.fixture
def fake_landmarker(monkeypatch):
    """Fixed landmarks for any frame, counting the calls: the cache must spare the landmarker."""
    calls = []
    landmarks = np.random.default_rng(1).uniform(4, 12, (68, 2)).astype(np.float32)

    def detect(frame: np.ndarray) -> np.ndarray:
        calls.append(frame.shape)
        return landmarks

    monkeypatch.setattr(faces, "detect_landmarks", detect)
    return calls


def test_a_cached_track_is_read_back_without_the_landmarker(tmp_path, fake_landmarker):
    clip = write_frame_folder(tmp_path / "sub01" / "EP01", range(1, 11))
    cache = tmp_path / "cache"
    first = faces.face_track(clip, 2, mode="align", size=32, cache_dir=cache)
    assert len(fake_landmarker) == faces.ONSET_FRAMES
    files = list((cache / "faces").glob("*.npz"))
    assert len(files) == 1
    again = faces.face_track(clip, 2, mode="align", size=32, cache_dir=cache)
    assert len(fake_landmarker) == faces.ONSET_FRAMES
    np.testing.assert_array_equal(again.matrix, first.matrix)
    np.testing.assert_array_equal(again.landmarks, first.landmarks)
    assert (again.mode, again.size, again.frame_size) == ("align", 32, (16, 16))
    frames = open_frames(clip).read([2, 3])
    np.testing.assert_array_equal(again.apply(frames), first.apply(frames))
    with pytest.raises(ValueError, match="located on"):
        again.apply(np.zeros((1, 20, 20, 3), np.uint8))


def test_a_changed_setting_gets_its_own_cache_file(tmp_path, fake_landmarker):
    clip = write_frame_folder(tmp_path / "sub01" / "EP01", range(1, 11))
    cache = tmp_path / "cache"
    for mode, size in [("align", 32), ("align", 48), ("crop", 48), ("align", 32)]:
        track = faces.face_track(clip, 2, mode=mode, size=size, cache_dir=cache)
        assert (track.mode, track.size) == (mode, size)
    assert len(list((cache / "faces").glob("*.npz"))) == 3
    assert len(fake_landmarker) == 3 * faces.ONSET_FRAMES
