"""Cached facial-motion curves: one small ``.npz`` a clip, written once by preprocessing
(``data_tools/extract_apex.py --curves DIR``) and read by the ``motion`` sampling strategy, so
training never recomputes optical flow."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mer.atomic import atomic_file


def curve_path(curves_dir: str | Path, sample_id: str) -> Path:
    """Where the curve of the sample ``sample_id`` (:attr:`mer.data.annotations.Sample.id`) is kept."""
    return Path(curves_dir).expanduser() / f"{sample_id}.npz"


def save_curve(path: Path, numbers: np.ndarray, motion: np.ndarray) -> None:
    """Written through :func:`mer.atomic.atomic_file`: parallel extractions never share a temporary name."""
    with atomic_file(path) as handle:
        np.savez(handle, frames=np.asarray(numbers, dtype=np.int64), motion=np.asarray(motion, dtype=np.float32))


def load_curve(path: Path) -> tuple[list[int], np.ndarray]:
    """``(frame numbers, motion)`` of one clip."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no motion curve; run data_tools/extract_apex.py --curves first")
    with np.load(path) as data:
        return data["frames"].tolist(), data["motion"]
