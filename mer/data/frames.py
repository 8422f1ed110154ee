"""Frame sources: read only the frames asked for from a video file or a folder of frame images.

Frame numbers follow the annotation convention: 0-based indices for video files, the numbers in
the file names for frame folders (CASME II's ``img46.jpg`` is frame 46).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Protocol

import numpy as np

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
_TRAILING_NUMBER = re.compile(r"(\d+)$")

log = logging.getLogger(__name__)


class FrameReadError(RuntimeError):
    """A clip's frames could not be read; the message names the file."""


class FrameSource(Protocol):
    """What the dataset needs of a clip: its valid frame numbers and a batched read."""

    path: Path

    @property
    def first(self) -> int: ...

    @property
    def last(self) -> int: ...

    def read(self, numbers: Sequence[int]) -> np.ndarray:
        """Frames ``numbers`` as a ``T x H x W x 3`` uint8 RGB array, in the order asked."""
        ...


def _check_range(source: FrameSource, numbers: Sequence[int]) -> None:
    bad = [n for n in numbers if not source.first <= n <= source.last]
    if bad:
        raise FrameReadError(f"{source.path}: frames {bad} outside {source.first}..{source.last}")


class FolderFrames:
    """A folder of frame images named with a trailing number (``img46.jpg``, ``reg_img46.jpg``)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_dir():
            raise FrameReadError(f"{self.path}: frame folder not found")
        if not self.files:
            raise FrameReadError(f"{self.path}: no numbered frame images ({', '.join(IMAGE_SUFFIXES)})")

    @cached_property
    def files(self) -> dict[int, Path]:
        found: dict[int, Path] = {}
        for entry in self.path.iterdir():
            match = _TRAILING_NUMBER.search(entry.stem)
            if entry.suffix.lower() in IMAGE_SUFFIXES and match:
                found[int(match.group(1))] = entry
        return dict(sorted(found.items()))

    @property
    def first(self) -> int:
        return next(iter(self.files))

    @property
    def last(self) -> int:
        return next(reversed(self.files))

    def read(self, numbers: Sequence[int]) -> np.ndarray:
        from PIL import Image

        _check_range(self, numbers)
        frames = []
        for n in numbers:
            if n not in self.files:
                raise FrameReadError(f"{self.path}: frame {n} is missing from the folder")
            try:
                with Image.open(self.files[n]) as image:
                    frames.append(np.asarray(image.convert("RGB")))
            except OSError as error:
                raise FrameReadError(f"{self.files[n]}: unreadable image ({error})") from error
        return np.stack(frames)


class _VideoFile:
    """Frame numbers of a video file: 0-based indices up to its frame count."""

    path: Path
    _count: int

    @property
    def first(self) -> int:
        return 0

    @property
    def last(self) -> int:
        return self._count - 1


class DecordFrames(_VideoFile):
    """A video file read with decord, which seeks to key frames instead of decoding from the start.

    ``fallback``: frames decord cannot decode are read with PyAV instead (decord 0.6 fails on some
    frame widths, e.g. 72 pixels: "DECORDArrayCopyFromTo: The size must exactly match").
    """

    def __init__(self, path: str | Path, *, fallback: bool = False):
        import decord

        self.path = Path(path)
        self._fallback = fallback
        try:
            self._reader = decord.VideoReader(str(self.path), ctx=decord.cpu(0), num_threads=1)
        except Exception as error:  # decord raises its own DECORDError and RuntimeError
            raise FrameReadError(f"{self.path}: unreadable video ({error})") from error
        self._count = len(self._reader)
        if self._count == 0:
            raise FrameReadError(f"{self.path}: video has no frames")

    def read(self, numbers: Sequence[int]) -> np.ndarray:
        _check_range(self, numbers)
        try:
            return self._reader.get_batch(list(numbers)).asnumpy()
        except Exception as error:
            if self._fallback:
                log.debug("%s: decord could not decode frames (%s); reading them with PyAV", self.path, error)
                return PyAVFrames(self.path).read(numbers)
            raise FrameReadError(f"{self.path}: could not decode frames {list(numbers)} ({error})") from error


class PyAVFrames(_VideoFile):
    """A video file read with PyAV: decodes from the start up to the last frame asked for, no further."""

    def __init__(self, path: str | Path):
        import av

        self.path = Path(path)
        try:
            with av.open(str(self.path)) as container:
                stream = container.streams.video[0]
                self._count = stream.frames or sum(1 for _ in container.decode(stream))
        except (av.FFmpegError, IndexError) as error:
            raise FrameReadError(f"{self.path}: unreadable video ({error})") from error
        if self._count == 0:
            raise FrameReadError(f"{self.path}: video has no frames")

    def read(self, numbers: Sequence[int]) -> np.ndarray:
        import av

        _check_range(self, numbers)
        wanted = set(numbers)
        stop = max(numbers)
        got: dict[int, np.ndarray] = {}
        try:
            with av.open(str(self.path)) as container:
                for index, frame in enumerate(container.decode(video=0)):
                    if index in wanted:
                        got[index] = frame.to_ndarray(format="rgb24")
                    if index >= stop:
                        break
        except av.FFmpegError as error:
            raise FrameReadError(f"{self.path}: could not decode ({error})") from error
        missing = sorted(wanted - got.keys())
        if missing:
            raise FrameReadError(f"{self.path}: frames {missing} could not be decoded")
        return np.stack([got[n] for n in numbers])


def _decord_available() -> bool:
    try:
        import decord  # noqa: F401
    except ImportError:
        return False
    return True


def open_frames(path: str | Path, backend: str = "auto") -> FrameSource:
    """Open a clip: a folder of frame images or a video file (decord, else PyAV).

    Args:
        path: the clip's folder or video file.
        backend: ``auto``, ``decord`` or ``pyav`` for video files.
    """
    path = Path(path)
    if path.is_dir():
        return FolderFrames(path)
    if not path.exists():
        raise FrameReadError(f"{path}: clip not found")
    if backend == "decord" or (backend == "auto" and _decord_available()):
        return DecordFrames(path, fallback=backend == "auto")
    if backend in ("pyav", "auto"):
        return PyAVFrames(path)
    raise ValueError(f"unknown frame backend {backend!r}; use auto, decord or pyav")


def write_video(path: Path, frames: Iterable[np.ndarray], fps: int) -> None:
    """Write frames (an array, or any iterable of equal ``H x W x 3`` frames, so minutes of video
    never sit in memory) as a near-lossless, intra-only H.264 MP4.

    Subtle motions must survive compression, and intra-only coding (as high-speed cameras and
    image-sequence releases give) lets a reader seek to any frame without decoding its neighbours.
    """
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.pix_fmt = "yuv444p"
        stream.options = {"crf": "4", "preset": "veryfast", "g": "1"}
        for i, frame in enumerate(frames):
            if i == 0:
                stream.width, stream.height = frame.shape[1], frame.shape[0]
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
