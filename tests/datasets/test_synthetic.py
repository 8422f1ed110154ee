import csv

import numpy as np
import pytest

from mer.data.frames import open_frames
from mer.datasets.synthetic import (
    DFME_COUNTS,
    EMOTION_ACTIONS,
    action_units,
    generate,
    intensity_profile,
    load_samples,
    plan_clips,
    random_face,
    render_face,
)

SIZE = 64


@pytest.fixture(scope="module")
def face():
    return random_face(np.random.default_rng(0))


def motion(face, emotion):
    """Absolute change between the neutral face and the emotion at its apex."""
    neutral = render_face(face, {}, size=SIZE, shift=(0, 0), blink=0)
    return np.abs(render_face(face, EMOTION_ACTIONS[emotion], size=SIZE, shift=(0, 0), blink=0) - neutral).sum(-1)


@pytest.mark.parametrize(
    ("emotion", "region"),
    [("surprise", "upper"), ("anger", "upper"), ("happiness", "lower"), ("disgust", "lower"), ("contempt", "lower")],
)
def test_each_emotion_moves_its_own_facial_region(face, emotion, region):
    change = motion(face, emotion)
    upper = change[: SIZE * 2 // 5].sum() / change.sum()
    assert (upper > 0.8) if region == "upper" else (upper < 0.2)


def test_contempt_is_one_sided_and_happiness_is_not(face):
    for emotion, ratio in (("contempt", 0.2), ("happiness", 0.8)):
        change = motion(face, emotion)
        left, right = change[:, : SIZE // 2].sum(), change[:, SIZE // 2 :].sum()
        assert (left / right < ratio) if emotion == "contempt" else (ratio < left / right < 1 / ratio)


def test_motion_is_subtle(face):
    """At the apex only a small part of the face changes, by at most a few pixels' worth."""
    for emotion in EMOTION_ACTIONS:
        changed = (motion(face, emotion) * 255 > 30).mean()
        assert 0 < changed < 0.05, emotion


def test_intensity_rises_to_the_apex_and_falls_by_offset():
    p = intensity_profile(20, onset=3, apex=9, offset=16)
    assert p[:4].tolist() == [0, 0, 0, 0] and p[16:].tolist() == [0, 0, 0, 0]
    assert p[9] == 1 and np.all(np.diff(p[3:10]) > 0) and np.all(np.diff(p[9:17]) < 0)


def test_emotions_follow_dfme_imbalance():
    specs = plan_clips(40, 50, np.random.default_rng(0))
    counts = {e: sum(s.emotion == e for s in specs) for e in DFME_COUNTS}
    total = sum(DFME_COUNTS.values())
    for emotion, count in counts.items():
        assert count / len(specs) == pytest.approx(DFME_COUNTS[emotion] / total, abs=0.02)
    assert all(s.onset < s.apex < s.offset < s.num_frames for s in specs)


def test_generation_is_deterministic_per_seed_whatever_the_workers(tmp_path):
    def make(name, seed, workers):
        root = generate(tmp_path / name, num_subjects=2, clips_per_subject=2, seed=seed, frame_size=32, workers=workers)
        rows = list(csv.DictReader((root / "annotations.csv").open()))
        frames = np.concatenate([open_frames(root / r["clip"]).read([0, int(r["apex"])]) for r in rows])
        return rows, frames

    rows_a, frames_a = make("a", 1, workers=1)
    rows_b, frames_b = make("b", 1, workers=2)
    rows_c, frames_c = make("c", 2, workers=2)
    assert rows_a == rows_b and np.array_equal(frames_a, frames_b)
    assert rows_a != rows_c or not np.array_equal(frames_a, frames_c)


def test_subjects_differ_in_brightness_and_shape():
    faces = [random_face(np.random.default_rng(seed)) for seed in range(8)]
    images = [render_face(f, {}, size=SIZE, shift=(0, 0), blink=0) for f in faces]
    assert np.ptp([im.mean() for im in images]) > 0.1
    assert len({f.face_axes for f in faces}) == 8


def test_load_samples_generates_once_into_the_cache(tmp_path):
    kwargs = dict(
        cache_dir=tmp_path,
        num_subjects=2,
        clips_per_subject=3,
        seed=0,
        frame_size=32,
        classes=["anger", "contempt", "disgust", "fear", "happiness", "sadness", "surprise"],
    )
    samples = load_samples(**kwargs)
    assert len(samples) == 6 and {s.subject for s in samples} == {"sub01", "sub02"}
    assert all(s.path.suffix == ".mp4" and s.path.is_file() and s.fps == 100 for s in samples)
    (folder,) = (tmp_path / "synthetic").iterdir()
    stamp = (folder / "annotations.csv").stat().st_mtime_ns
    assert load_samples(**kwargs) == samples
    assert (folder / "annotations.csv").stat().st_mtime_ns == stamp


def test_action_unit_codes():
    assert action_units("happiness") == "12"
    assert action_units("contempt") == "R12"
    assert action_units("surprise") == "1+2+26"


def test_the_tools_read_the_default_dataset_without_opening_its_clips(tmp_path):
    """mer.spot and extract_apex read samples with check_frames=False; the generator's own keywords
    must not receive it (it did: "generate() got an unexpected keyword argument 'check_frames'")."""
    from mer.compose import compose_config, load_samples

    cfg = compose_config(
        [
            f"dataset.cache_dir={tmp_path}",
            "dataset.num_subjects=2",
            "dataset.clips_per_subject=2",
            "dataset.frame_size=32",
        ]
    )
    samples = load_samples(cfg, labelled=False, clips="present")
    assert len(samples) == 4 and all(s.path.exists() for s in samples)
