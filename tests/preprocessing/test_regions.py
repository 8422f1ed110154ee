"""Landmark regions: a brow's motion lands in the brows' regions through head motion, the
excursion score peaks where a region moves out and back, never on a drift, and a region's apex
curve holds over an expression held."""

import numpy as np
import pytest

from mer.data.faces import detect_landmarks
from mer.datasets.synthetic import random_face, render_face, skin_texture
from mer.preprocessing.motion import to_grey
from mer.preprocessing.regions import EYES, REGIONS, ApexPrior, RegionMeter, apex_index, excursion, region_curves


@pytest.fixture(scope="module")
def face():
    rng = np.random.default_rng(4)
    return random_face(rng), skin_texture(rng)


def frame(face, actions, shift=(0.0, 0.0), blink=0.0):
    look, texture = face
    image = render_face(
        look, actions, size=128, shift=(shift[0] * 2 / 128, shift[1] * 2 / 128), blink=blink, texture=texture
    )
    return (image * 255).astype(np.uint8)


def test_a_brow_raise_under_a_head_shift_moves_the_brows_only(face):
    still = frame(face, {})
    landmarks = detect_landmarks(still)
    assert landmarks is not None, "dlib finds the cartoon face"
    meter = RegionMeter(landmarks, (128, 128))
    grey = to_grey(np.stack([still, frame(face, {"brow_inner": 1, "brow_outer": 1}, shift=(1.5, -1.0))]), None)
    motion = dict(zip(meter.names, np.linalg.norm(meter.vectors(grey[0], grey[1]), axis=1), strict=True))
    brows = min(motion["brow_right"], motion["brow_left"])
    others = max(motion[n] for n in ("nose", "corner_right", "corner_left", "chin"))
    assert brows > 1.0 and others < 0.4 * brows, motion


def test_a_blink_stays_in_the_eye_channel(face):
    still = frame(face, {})
    meter = RegionMeter(detect_landmarks(still), (128, 128))
    grey = to_grey(np.stack([still, frame(face, {}, blink=1.0)]), None)
    motion = np.linalg.norm(meter.vectors(grey[0], grey[1]), axis=1)
    expression, eyes = motion[: len(REGIONS)], motion[len(REGIONS) :]
    assert len(eyes) == len(EYES) and eyes.min() > 2 * expression.max(), motion


def test_excursion_peaks_out_and_back_and_ignores_a_drift():
    t = np.arange(101, dtype=float)
    bump = np.exp(-(((t - 60) / 8) ** 2))
    out_and_back = np.zeros((101, 1, 2))
    out_and_back[:, 0, 1] = -bump  # a brow up and down again
    drift = np.zeros((101, 1, 2))
    drift[:, 0, 0] = 0.05 * t  # the head turning steadily
    score = excursion(out_and_back + drift, 10)[:, 0]
    assert abs(int(np.argmax(score)) - 60) <= 1
    assert excursion(drift, 10).max() < 1e-9


def test_a_held_expression_scores_over_its_hold_and_a_drift_scores_nothing():
    t = np.arange(101, dtype=float)
    held = np.clip((t - 20) / 15, 0, 1) * np.clip((85 - t) / 15, 0, 1)  # out by 35, held to 70, back by 85
    displacement = np.zeros((101, 2, 2))
    displacement[:, 0, 1] = -held
    displacement[:, 1, 0] = 0.03 * t  # a drift three times as far: no say
    curves = region_curves(displacement, ["brow", "drift"])
    assert curves["drift"].max() < 1e-6
    assert curves["brow"][40:66].min() > 0.7 * curves["brow"].max(), "held, the expression keeps its score"
    assert 40 <= apex_index(curves["brow"] + curves["drift"]) <= 65


def test_the_prior_breaks_a_plateau_towards_the_middle_but_keeps_a_clear_peak():
    plateau = np.concatenate([np.linspace(0, 1, 20), np.ones(40)])
    assert 20 <= apex_index(plateau) <= 35
    peak = np.exp(-(((np.arange(60) - 12) / 3) ** 2))
    assert apex_index(peak) == 12
    assert apex_index(np.zeros(61)) == 31, "no motion: the prior's mean (0.51 of 60 frames), not the onset"
    assert apex_index(np.zeros(61), ApexPrior(mean=0.25)) == 15


def test_the_prior_is_fitted_to_where_annotated_apexes_lie():
    prior = ApexPrior.fit([0, 10], [3, 20], [10, 30], sd=0.2)  # fractions 0.3 and 0.5
    assert prior.mean == 0.4 and prior.sd == 0.2
    weights = prior.weights(11)  # 11 frames: tenths of the clip
    assert weights.argmax() == 4 and weights[4] == 1.0
    assert np.isclose(weights[6], np.exp(-0.5))  # one sd away
