import numpy as np
import pytest

from mer.data.frames import FolderFrames, FrameReadError, PyAVFrames, open_frames
from tests.conftest import frame_value, write_frame_folder


def grey(frames: np.ndarray) -> list[int]:
    return [int(round(f.mean())) for f in frames]


def test_folder_reads_frames_by_their_file_number(frame_folder):
    source = open_frames(frame_folder)
    assert isinstance(source, FolderFrames)
    assert (source.first, source.last) == (101, 120)
    frames = source.read([120, 101, 105, 105])
    assert frames.shape == (4, 16, 16, 3) and frames.dtype == np.uint8
    assert grey(frames) == [frame_value(n) for n in (120, 101, 105, 105)]


def test_folder_orders_numbers_numerically_not_as_text(tmp_path):
    folder = write_frame_folder(tmp_path / "clip", range(8, 12), prefix="reg_img")
    assert list(open_frames(folder).files) == [8, 9, 10, 11]


def test_folder_with_a_gap_names_the_missing_frame(tmp_path):
    folder = write_frame_folder(tmp_path / "clip", range(1, 6))
    (folder / "img3.png").unlink()
    with pytest.raises(FrameReadError, match="frame 3 is missing"):
        open_frames(folder).read([2, 3])


@pytest.mark.parametrize("backend", ["decord", "pyav"])
def test_video_backends_read_the_asked_frames(video, backend):
    source = open_frames(video, backend)
    assert (source.first, source.last) == (0, 29)
    frames = source.read([0, 7, 29, 7])
    assert frames.shape == (4, 32, 32, 3)
    assert np.abs(np.array(grey(frames)) - [frame_value(n) for n in (0, 7, 29, 7)]).max() <= 2


def test_pyav_stops_decoding_after_the_last_frame_asked_for(video, monkeypatch):
    import av

    decoded = []
    real_open = av.open

    class Counting:
        def __init__(self, *args, **kwargs):
            self._c = real_open(*args, **kwargs)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._c.close()

        def decode(self, *args, **kwargs):
            for frame in self._c.decode(*args, **kwargs):
                decoded.append(frame)
                yield frame

        def __getattr__(self, name):
            return getattr(self._c, name)

    source = PyAVFrames(video)
    monkeypatch.setattr(av, "open", Counting)
    source.read([2, 5])
    assert len(decoded) == 6


def test_out_of_range_and_missing_clips_name_the_file(video, tmp_path):
    with pytest.raises(FrameReadError, match=r"clip\.mp4: frames \[30\] outside 0\.\.29"):
        open_frames(video).read([0, 30])
    with pytest.raises(FrameReadError, match="nothing.mp4: clip not found"):
        open_frames(tmp_path / "nothing.mp4")


@pytest.mark.parametrize("backend", ["decord", "pyav"])
def test_corrupt_video_is_a_clear_error(tmp_path, backend):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a video" * 10)
    with pytest.raises(FrameReadError, match="bad.mp4"):
        open_frames(bad, backend).read([0])


def test_a_video_decord_misreads_is_read_with_pyav(tmp_path):
    """decord 0.6 fails on some frame widths (72 pixels); the default backend still reads them."""
    from mer.data.frames import write_video

    frames = np.random.default_rng(0).integers(0, 255, (6, 88, 72, 3), dtype=np.uint8)
    path = tmp_path / "narrow.mp4"
    write_video(path, frames, 30)
    with pytest.raises(FrameReadError, match="could not decode"):
        open_frames(path, backend="decord").read([1, 2])
    got = open_frames(path).read([1, 2])
    assert got.shape == (2, 88, 72, 3)
    assert np.abs(got.astype(int) - open_frames(path, backend="pyav").read([1, 2])).max() == 0
