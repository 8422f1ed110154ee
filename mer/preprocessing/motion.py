"""Facial motion curves and apex spotting.

The flow method measures, inside the face, the optical flow of every frame from the onset frame,
removes the head's rigid motion (an affine fit to the flow, robustly re-fitted without its worst
residuals), and scores each frame by the remaining motion, weighted towards the pixels that move
most over the clip. The curve is smoothed, its slow drift (the line through its ends, where the
face is neutral) removed, and the apex is its peak. The diff method, the baseline, scores plain
grey-level differences from the onset frame.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter, gaussian_filter1d

from mer.data.flow import optical_flow

METHODS = ("flow", "diff")


def to_grey(frames: np.ndarray, width: int | None = 128) -> np.ndarray:
    """``N x H x W x 3`` RGB to float32 grey, resized to ``width`` pixels wide (keeping the aspect)."""
    grey = np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]).astype(np.float32)
    if width is None or grey.shape[2] == width:
        return grey
    height = max(1, int(round(grey.shape[1] * width / grey.shape[2])))
    interpolation = cv2.INTER_AREA if width < grey.shape[2] else cv2.INTER_LINEAR
    return np.stack([cv2.resize(g, (width, height), interpolation=interpolation) for g in grey])


def face_mask(height: int, width: int) -> np.ndarray:
    """The inner ellipse of a face crop: the face without the background at its corners and edges.

    A static background would otherwise pull the head's rigid-motion estimate towards zero and
    turn every head movement into apparent facial motion.
    """
    y, x = np.mgrid[0:height, 0:width]
    return ((x + 0.5 - width / 2) / (0.6 * width / 2)) ** 2 + ((y + 0.5 - height / 2) / (0.8 * height / 2)) ** 2 <= 1


def remove_rigid_motion(
    flow: np.ndarray, mask: np.ndarray | None = None, weights: np.ndarray | None = None
) -> np.ndarray:
    """Flow minus its best affine fit over ``mask`` (the head's translation, rotation, scale, shear).

    The fit is repeated once without the 20% worst-fitting pixels, so a moving brow or mouth
    corner does not pull the rigid estimate towards itself. ``weights`` (per pixel) weigh the fit,
    e.g. by texture, where flow is measured rather than filled in.
    """
    h, w = flow.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    design = np.stack([xs.ravel(), ys.ravel(), np.ones(h * w, np.float32)], axis=1)
    target = flow.reshape(-1, 2)
    use = np.ones(h * w, bool) if mask is None else mask.ravel().astype(bool)
    root = None if weights is None else np.sqrt(weights.ravel())[:, None]
    for _ in range(2):
        if root is None:
            coef, *_ = np.linalg.lstsq(design[use], target[use], rcond=None)
        else:
            coef, *_ = np.linalg.lstsq(design[use] * root[use], target[use] * root[use], rcond=None)
        residual = target - design @ coef
        error = np.linalg.norm(residual, axis=1)
        use &= error <= np.quantile(error[use], 0.8)
    return residual.reshape(h, w, 2)


def motion_maps(grey: np.ndarray, method: str = "flow", *, algorithm: str = "farneback") -> np.ndarray:
    """Per-pixel motion of every frame relative to the first, ``N x H x W``, zero outside the face.

    ``flow``: magnitude of the optical flow left after removing the head's rigid motion.
    ``diff``: absolute grey-level difference (no motion compensation: the baseline).
    """
    if method not in METHODS:
        raise ValueError(f"unknown spotting method {method!r}; choose one of {', '.join(METHODS)}")
    mask = face_mask(*grey.shape[1:])
    maps = np.zeros(grey.shape, np.float32)
    for i in range(1, len(grey)):
        if method == "diff":
            maps[i] = np.abs(grey[i] - grey[0])
        else:
            maps[i] = np.linalg.norm(remove_rigid_motion(optical_flow(grey[0], grey[i], algorithm), mask), axis=2)
    return maps * mask


def frame_scores(maps: np.ndarray, *, matched: bool = True) -> np.ndarray:
    """One motion score a frame from its motion map.

    With ``matched`` each pixel is weighted by how much it moves over the whole clip (above the
    median pixel), a matched filter: the few regions a micro-expression moves dominate the score
    and the noise of the still face drops out. Without it, the plain mean (the diff baseline).
    """
    if not matched:
        return maps.mean(axis=(1, 2)).astype(np.float64)
    activity = gaussian_filter(maps.mean(axis=0), 2)
    inside = activity[activity > 0]
    weight = np.clip(activity - (np.median(inside) if inside.size else 0), 0, None)
    if weight.sum() == 0:
        return np.zeros(len(maps))
    return (maps * weight).sum(axis=(1, 2)) / weight.sum()


def motion_curve(scores: np.ndarray, *, sigma: float | None = None) -> np.ndarray:
    """Smooth raw scores over time and remove the slow drift: the line through the curve's ends.

    ``sigma`` (frames) defaults to a twentieth of the clip, so the curve is smoothed alike at 30
    and 500 fps.
    """
    if sigma is None:
        sigma = max(1.0, len(scores) / 20)
    smooth = gaussian_filter1d(scores.astype(np.float64), sigma, mode="nearest")
    drift = np.linspace(smooth[0], smooth[-1], len(smooth))
    return np.clip(smooth - drift, 0, None)


def clip_motion(grey: np.ndarray, method: str = "flow") -> np.ndarray:
    """The motion curve of grey frames from onset to offset: maps, scores (matched for flow), curve."""
    return motion_curve(frame_scores(motion_maps(grey, method), matched=method == "flow"))


def spot_apex(curve: np.ndarray, first_number: int) -> int:
    """Frame number of the curve's peak, the curve starting at frame ``first_number``."""
    return first_number + int(np.argmax(curve))
