import pickle

import numpy as np
import pytest
import torch

from mer.data import dataset as dataset_module
from mer.data.annotations import Sample
from mer.data.dataset import ClipDataset
from tests.conftest import frame_value, write_test_video


def samples_for(paths):
    return [
        Sample(subject="s", clip=p.name, path=p, onset=2, apex=9, offset=20, emotion="x", label=0, dataset="d")
        for p in paths
    ]


@pytest.fixture
def clips(tmp_path):
    return samples_for([write_test_video(tmp_path / f"c{i}.mp4", 24) for i in range(2)])


@pytest.fixture
def asked(monkeypatch) -> list[list[int]]:
    """The frame numbers each read asks for, through the clip and flow datasets' ``open_frames``."""
    from mer.data import flow

    asked, real_open = [], dataset_module.open_frames

    def spy(path, backend="auto"):
        source = real_open(path, backend)
        real_read = source.read
        source.read = lambda numbers: asked.append(list(numbers)) or real_read(numbers)
        return source

    monkeypatch.setattr(dataset_module, "open_frames", spy)
    monkeypatch.setattr(flow, "open_frames", spy)
    return asked


def test_reads_only_the_sampled_frames_and_resizes(clips, asked):
    data = ClipDataset(clips, strategy="onset_apex", num_frames=4, size=(8, 8), cache="none")
    clip, label = data[0]
    assert asked == [[2, 4, 7, 9]]
    assert clip.shape == (4, 8, 8, 3) and clip.dtype == torch.uint8 and label == 0
    assert np.abs(clip.float().mean(dim=(1, 2, 3)).numpy() - [frame_value(n) for n in (2, 4, 7, 9)]).max() <= 2


@pytest.mark.parametrize("cache", ["memory", "disk"])
def test_cached_clips_are_decoded_once_and_equal_fresh_reads(clips, tmp_path, monkeypatch, cache):
    settings = dict(strategy="uniform", num_frames=4, size=(8, 8), cache_dir=tmp_path / "c")
    fresh = [ClipDataset(clips, cache="none", **settings)[i][0] for i in range(2)]
    cached = ClipDataset(clips, cache=cache, **settings)
    for i in range(2):
        cached[i]

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded a cached clip")

    monkeypatch.setattr(dataset_module, "open_frames", no_decoding)
    if cache == "disk":  # a new dataset (another worker, a later run) finds the disk cache
        cached = ClipDataset(clips, cache=cache, **settings)
    for i in range(2):
        assert torch.equal(cached[i][0], fresh[i])


def test_disk_cache_is_keyed_by_settings_and_pickles_without_its_contents(clips, tmp_path):
    a = ClipDataset(clips, strategy="uniform", num_frames=4, size=(8, 8), cache="disk", cache_dir=tmp_path)
    b = ClipDataset(clips, strategy="uniform", num_frames=4, size=(16, 16), cache="disk", cache_dir=tmp_path)
    a[0], b[0]
    assert len(list(tmp_path.glob("*.done.npy"))) == 2
    assert len(pickle.dumps(a)) < 4000
    assert torch.equal(pickle.loads(pickle.dumps(a))[0][0], a[0][0])


@pytest.mark.parametrize(
    "kind, strategy",
    [("clips", "uniform"), ("clips", "motion"), ("flow_clip", "apex_centred"), ("flow_clip", "motion"), ("flow", None)],
)
def test_the_frame_check_names_the_frames_each_dataset_decodes(kind, strategy, clips, tmp_path, asked):
    """``frames_read`` (the check before training) and the datasets share one frame choice."""
    from mer.data import build
    from mer.data.curves import curve_path, save_curve

    curves = tmp_path / "curves"
    for s in clips:  # no motion before frame 12, then 1 a frame
        save_curve(curve_path(curves, s.id), np.arange(2, 21), np.r_[np.zeros(10), np.arange(1, 10)])
    config = {"kind": kind, "input_size": [8, 8], "flow_algorithm": "farneback"}
    config["sampling"] = {"strategy": strategy or "uniform", "num_frames": 4, "stride": 2, "curves_dir": str(curves)}
    data = build.build_dataset(clips, config, cache="none", cache_dir=tmp_path / "cache")
    data[1]
    expected = build.frames_read(clips[1], config)
    assert asked == [expected]
    if strategy == "motion":  # the curve was read: cumulative motion 0, 3, 6, 9 (uniform: 2, 8, 14, 20)
        assert expected[-4:] == [2, 14, 17, 20]
