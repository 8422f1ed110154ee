"""Face detection and one-box-per-clip cropping with OpenCV's Haar cascade.

The cascade ships inside the ``opencv-contrib-python-headless`` 4.x wheel, so nothing is
downloaded at run time. One box for the whole clip keeps the subtle motion intact: a box that
followed the face frame by frame would add its own jitter to the micro-expression.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np


class NoFaceError(RuntimeError):
    """No face was found in a clip."""


@dataclass(frozen=True)
class Box:
    """A square crop box in pixels, ``x0 <= x < x1``, ``y0 <= y < y1``."""

    x0: int
    y0: int
    x1: int
    y1: int

    def crop(self, frames: np.ndarray) -> np.ndarray:
        """Crop ``... x H x W x C`` frames, padding with edge pixels where the box leaves the image."""
        h, w = frames.shape[-3:-1]
        pad = [(0, 0)] * (frames.ndim - 3)
        pads = (max(0, -self.y0), max(0, self.y1 - h)), (max(0, -self.x0), max(0, self.x1 - w))
        if any(p for pair in pads for p in pair):
            frames = np.pad(frames, [*pad, *pads, (0, 0)], mode="edge")
        y0, x0 = self.y0 + pads[0][0], self.x0 + pads[1][0]
        return frames[..., y0 : y0 + self.y1 - self.y0, x0 : x0 + self.x1 - self.x0, :]


@lru_cache(maxsize=1)
def _cascade() -> cv2.CascadeClassifier:
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    if cascade.empty():
        raise RuntimeError("OpenCV's Haar face cascade is missing: install opencv-contrib-python-headless 4.x")
    return cascade


def detect_face(frames: np.ndarray, *, margin: float = 0.2, min_size: float = 0.1) -> Box:
    """One square box around the largest face found in any of ``frames`` (``N x H x W x 3`` RGB).

    Args:
        margin: fraction of the face size added on each side (brows and chin stay inside).
        min_size: smallest face, as a fraction of the shorter image side.

    Raises:
        NoFaceError: no frame holds a face.
    """
    h, w = frames.shape[1:3]
    smallest = max(int(min(h, w) * min_size), 20)
    found = []
    for frame in frames:
        grey = cv2.equalizeHist(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY))
        faces = _cascade().detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5, minSize=(smallest, smallest))
        found.extend(tuple(f) for f in faces)
    if not found:
        raise NoFaceError("no face found")
    x, y, fw, fh = max(found, key=lambda f: f[2] * f[3])
    side = int(round(max(fw, fh) * (1 + 2 * margin)))
    cx, cy = x + fw / 2, y + fh / 2
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    return Box(x0, y0, x0 + side, y0 + side)


def crop_and_resize(frames: np.ndarray, box: Box, size: int) -> np.ndarray:
    """Crop ``N x H x W x 3`` frames to ``box`` and resize to ``size x size``."""
    cropped = box.crop(frames)
    return np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in cropped])
