"""Shared fixtures: tiny clips on disk in both layouts, and the path of the real data when present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mer.data.frames import write_video

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def frame_value(number: int) -> int:
    """A distinct grey level per frame, so a read can be checked against the frame it claims to be."""
    return (number * 7) % 250


def write_frame_folder(folder: Path, numbers: range, prefix: str = "img", size: int = 16) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for n in numbers:
        Image.fromarray(np.full((size, size, 3), frame_value(n), np.uint8)).save(folder / f"{prefix}{n}.png")
    return folder


def write_test_video(path: Path, num_frames: int, size: int = 32) -> Path:
    frames = np.stack([np.full((size, size, 3), frame_value(n), np.uint8) for n in range(num_frames)])
    write_video(path, frames, fps=30)
    return path


@pytest.fixture
def frame_folder(tmp_path: Path) -> Path:
    return write_frame_folder(tmp_path / "sub01" / "EP01", range(101, 121))


@pytest.fixture
def video(tmp_path: Path) -> Path:
    return write_test_video(tmp_path / "sub01" / "clip.mp4", 30)
