import numpy as np
import pytest

from mer.data import flow as flow_module
from mer.data.flow import FlowClipDataset, FlowDataset, flow_clip, flow_image, optical_strain
from mer.datasets.casme2 import load_casme2
from tests.conftest import SHARED_DATA


def test_strain_is_zero_for_translation_and_the_stretch_rate_for_a_stretch():
    ys, xs = np.mgrid[0:20, 0:20].astype(float)
    translation = np.stack([np.full_like(xs, 1.5), np.full_like(xs, -0.5)], axis=2)
    assert np.allclose(optical_strain(translation), 0)
    stretch = np.stack([0.1 * xs, np.zeros_like(xs)], axis=2)  # u = 0.1 x: u_x = 0.1
    assert np.allclose(optical_strain(stretch), 0.1)


def textured(shift=0):
    rng = np.random.default_rng(0)
    base = (rng.uniform(0, 255, (40, 40)) > 128).astype(np.uint8) * 200
    base = np.kron(base, np.ones((4, 4), np.uint8))  # 160 x 160 blocks
    return np.repeat(np.roll(base, shift, axis=1)[..., None], 3, axis=2)


def test_flow_image_shape_and_no_motion_gives_zeros():
    image = flow_image(textured(), textured(3), size=(28, 28))
    assert image.shape == (28, 28, 3) and image.dtype == np.uint8
    assert image[..., 2].max() > 0  # strain where blocks deform at the borders
    assert not flow_image(textured(), textured(), size=(28, 28)).any()


SHEET = SHARED_DATA / "annotations" / "CASME2-coding-20140508.xlsx"
SUBSET = SHARED_DATA / "casme2_subset" / "Cropped"


@pytest.mark.skipif(not (SHEET.is_file() and SUBSET.is_dir()), reason="../shared CASME II data absent")
def test_real_casme2_flow_is_computed_once_and_then_read_from_the_cache(tmp_path, monkeypatch):
    samples = load_casme2(
        root=SUBSET, annotations=SHEET, classes=["happiness", "disgust", "repression", "surprise", "others"]
    )[:4]
    first = [FlowDataset(samples, size=(28, 28), cache_dir=tmp_path)[i][0] for i in range(4)]
    assert all(x.shape == (1, 28, 28, 3) and x.float().std() > 5 for x in first)  # real motion, not blank

    def no_flow(*args, **kwargs):
        raise AssertionError("computed flow for a cached clip")

    monkeypatch.setattr(flow_module, "flow_image", no_flow)
    again = FlowDataset(samples, size=(28, 28), cache_dir=tmp_path)
    assert all(np.array_equal(again[i][0], first[i]) for i in range(4))


def moving_patch(shift: int) -> np.ndarray:
    """A textured face-sized frame whose central patch (only) is moved ``shift`` pixels right."""
    frame = textured()
    patch = textured(shift)[40:120, 40:120]
    frame[40:120, 40:120] = patch
    return frame


def test_flow_clip_is_zero_where_nothing_moves_and_positive_where_the_patch_moves_right():
    clip = flow_clip(np.stack([textured(), textured(), moving_patch(4)]), size=(32, 32), algorithm="farneback")
    assert clip.shape == (2, 32, 32, 3) and clip.dtype == np.uint8
    assert np.all(np.abs(clip[0, ..., :2].astype(int) - 128) <= 1)  # no motion: the middle of the range
    centre = clip[1, 12:20, 12:20, 0].astype(int)  # horizontal flow inside the moved patch
    corner = clip[1, :4, :4, 0].astype(int)
    assert centre.mean() > 170 and np.abs(corner - 128).max() <= 3  # one scale, zero where still


def test_a_mirrored_clip_has_its_horizontal_flow_negated_about_the_middle_of_the_range():
    frames = np.stack([textured(), moving_patch(4)])
    clip = flow_clip(frames, size=(32, 32), algorithm="farneback").astype(int)
    mirrored = flow_clip(frames[:, :, ::-1].copy(), size=(32, 32), algorithm="farneback").astype(int)
    inside = (slice(None), slice(12, 20), slice(12, 20))
    assert np.abs(mirrored[..., 0][inside] - (255 - clip[..., 0][:, :, ::-1][inside])).mean() < 8


@pytest.mark.skipif(not (SHEET.is_file() and SUBSET.is_dir()), reason="../shared CASME II data absent")
def test_real_flow_clips_are_computed_once_and_a_changed_setting_gets_a_new_cache(tmp_path, monkeypatch):
    classes = ["happiness", "disgust", "repression", "surprise", "others"]
    samples = load_casme2(root=SUBSET, annotations=SHEET, classes=classes)[:2]
    settings = dict(strategy="uniform", num_frames=4, size=(28, 28), cache_dir=tmp_path, algorithm="farneback")
    first = [FlowClipDataset(samples, **settings)[i][0] for i in range(2)]
    assert all(x.shape == (4, 28, 28, 3) and x[1:].float().std() > 5 for x in first)

    def no_flow(*args, **kwargs):
        raise AssertionError("recomputed a cached flow clip")

    monkeypatch.setattr(flow_module, "flow_clip", no_flow)
    again = FlowClipDataset(samples, **settings)
    assert all(np.array_equal(again[i][0], first[i]) for i in range(2))
    with pytest.raises(AssertionError, match="recomputed"):  # 8 frames: another cache, computed afresh
        FlowClipDataset(samples, **{**settings, "num_frames": 8})[0]
    assert len(list((tmp_path / "flow_clip").glob("*.done.npy"))) == 2


def test_the_flow_image_is_the_fields_plain_recipe():
    """Onset and apex resized to 128 x 128, TV-L1, strain, each float channel resized to 28 x 28 and
    only then min-max scaled to bytes (both resizes bilinear), written out here step by step."""
    cv2 = pytest.importorskip("cv2")
    if not hasattr(cv2, "optflow"):
        pytest.skip("OpenCV without contrib")
    onset, apex = textured(), moving_patch(3)
    grey = [cv2.resize(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), (128, 128)) for f in (onset, apex)]
    flow = cv2.optflow.DualTVL1OpticalFlow_create().calc(grey[0], grey[1], None)
    channels = [flow[..., 0], flow[..., 1], optical_strain(flow).astype(np.float32)]
    expected = []
    for c in channels:
        small = cv2.resize(c, (28, 28))
        expected.append(np.round((small - small.min()) / (small.max() - small.min()) * 255).astype(np.uint8))
    got = flow_image(onset, apex, size=(28, 28), algorithm="tvl1")
    assert np.abs(got.astype(int) - np.stack(expected, axis=2)).max() <= 1
