import numpy as np

from mer.preprocessing.motion import face_mask, frame_scores, motion_curve, remove_rigid_motion, spot_apex


def test_rigid_motion_is_removed_and_local_motion_kept():
    h, w = 40, 40
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    rigid = np.stack([0.5 + 0.01 * xs - 0.02 * ys, -0.3 + 0.02 * xs + 0.01 * ys], axis=2)  # shift + rotation/scale
    local = np.zeros_like(rigid)
    local[10:14, 20:24] = (1.5, 0.0)  # a mouth corner moving right
    residual = np.linalg.norm(remove_rigid_motion(rigid + local), axis=2)
    assert residual[11, 21] > 1.3
    assert np.median(residual) < 0.01


def test_face_mask_is_the_inner_ellipse():
    mask = face_mask(100, 80)
    assert mask[50, 40] and not mask[0, 0] and not mask[50, 5] and not mask[5, 40]


def test_matched_scores_follow_the_region_that_moves():
    rng = np.random.default_rng(0)
    maps = rng.uniform(0, 0.3, (11, 20, 20)).astype(np.float32)  # noise everywhere
    bump = np.array([0, 1, 2, 3, 4, 5, 4, 3, 2, 1, 0], np.float32)
    maps[:, 5:8, 5:8] += bump[:, None, None]  # one small region moves, peaking at frame 5
    assert np.argmax(frame_scores(maps)) == 5
    assert frame_scores(maps)[5] > 3 * frame_scores(maps, matched=False)[5]


def test_curve_removes_linear_drift_and_finds_the_peak():
    t = np.arange(41, dtype=float)
    scores = 0.05 * t + np.exp(-(((t - 14) / 5) ** 2))  # drift would move a plain argmax to the end
    curve = motion_curve(scores, sigma=1)
    assert spot_apex(curve, first_number=100) == 114
    assert curve[0] == 0 and curve[-1] == 0
