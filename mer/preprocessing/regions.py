"""Facial motion in the landmark regions of the action units that carry micro-expressions.

A whole-face score lets a blink or a slow head turn outweigh a micro-expression. Here the motion
is measured only in small boxes around the 68 landmarks where the usual micro-expression action
units act: both brows (AU1, AU2, AU4), the nose's wings (AU9, AU10), both mouth corners (AU12, AU14,
AU15, AU20) and the chin (AU17). The eyes are measured as a channel of their own, which spotting
leaves out: a blink is the largest motion of most clips and is not an expression.

The head's motion is the affine fit (:func:`mer.preprocessing.motion.remove_rigid_motion`) to the
flow of the skin no expression moves: the face without the regions' and the eyes' boxes, so the
nose bridge (the stable point of the DFME group's spotting tool), forehead, cheeks and the jaw's
outline. Subtracting the bridge's own flow once more, as that tool does, was tried and dropped: at
a 128-pixel face the flow's 15-pixel window carries the blink and the brows' motion into the
bridge, and from there into every region. A region's motion is the
length of its mean flow vector: the coherent displacement of the skin, in which sensor noise
averages out rather than adding up as it does in a mean of magnitudes. Fits and means weigh each
pixel by its texture (the squared grey-level gradient, smoothed): on flat skin optical flow is
not measured but filled in from the surroundings, and there it would only add noise.

The apex is where the regions have moved furthest from the onset, counting only regions that
move out and back. Each region's excursion (at each frame, the displacement over the preceding
stretch, a quarter of the clip, against the one over the following stretch: a frame the skin
reaches and leaves scores the geometric mean of the two, ``sqrt(-a . b)`` pixels) says whether it
does: a steady drift (a slow head turn the fits leave, a lighting change) or an expression still
rising at the offset scores nothing. A region's apex curve is then its displacement from the
onset, scaled so that its peak is the region's peak excursion, plus a quarter of the excursion
itself. The displacement keeps an expression held over several frames at full score, where the
excursion alone peaks only at the turn; with the 224-pixel crop this took the mean error on the
131 CASME II clips of ``casme2_dev`` from 6.46 frames (the excursion alone at 128 pixels) to 5.59,
and its worst clip from 20 to 8 frames beyond the midpoint's error (docs/spotting.md). A drift
along the expression's own direction still adds to its distance; the prior keeps such a clip's
apex off the last frame. The apex is the peak of the
regions' sum under a broad prior (:class:`ApexPrior`: a Gaussian over the fraction of onset..offset,
centred where annotated apexes lie, 0.51, sd 0.3 of the clip): the annotated offset bounds
the expression, so its apex lies rarely at either end, and a clip with no clear motion falls back
to where apexes usually are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter1d

from mer.data.faces import LEFT_EYE, RIGHT_EYE, eye_centres
from mer.data.flow import optical_flow
from mer.preprocessing.motion import face_mask, remove_rigid_motion

#: Expression regions: iBUG 68-point indices (0-based) each box is drawn around.
#: "Right"/"left" are the subject's (the right brow is on the image's left).
REGIONS: dict[str, tuple[int, ...]] = {
    "brow_right": (17, 18, 19, 20, 21),
    "brow_left": (22, 23, 24, 25, 26),
    "nose": (31, 32, 33, 34, 35),
    "corner_right": (48,),
    "corner_left": (54,),
    "chin": (57, 7, 8, 9),
}
#: The eyes: measured and plotted, left out of spotting (blinks).
EYES: dict[str, tuple[int, ...]] = {"eye_right": RIGHT_EYE, "eye_left": LEFT_EYE}
#: Margin of each box around its points, in inter-ocular distances (each side).
MARGIN = 0.15
#: The excursion's weight beside the distance from the onset in a region's apex curve.
EXCURSION_SHARE = 0.25
#: The mean apex fraction of onset..offset in the 131 annotated CASME II clips of ``casme2_dev``.
APEX_FRACTION = 0.51
#: The apex prior's sd, in fractions of the clip: chosen by nested validation on ``casme2_dev``.
PRIOR_SD = 0.3


def region_boxes(landmarks: np.ndarray, size: int, regions: Mapping[str, Sequence[int]]) -> dict[str, tuple]:
    """Each region's box ``(y0, y1, x0, x1)`` (slice bounds) in a ``size`` square image of ``landmarks``."""
    iod = float(np.linalg.norm(np.subtract(*eye_centres(landmarks))))
    pad = max(1.0, MARGIN * iod)
    boxes = {}
    for name, points in regions.items():
        low = landmarks[list(points)].min(0) - pad
        high = landmarks[list(points)].max(0) + pad
        x0, y0 = np.clip(np.floor(low), 0, size - 1).astype(int)
        x1, y1 = np.clip(np.ceil(high), 1, size).astype(int)
        boxes[name] = (y0, max(y1, y0 + 1), x0, max(x1, x0 + 1))
    return boxes


def texture(grey: np.ndarray) -> np.ndarray:
    """Per-pixel weight of measured flow: the squared gradient, smoothed over the flow's window."""
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    return cv2.GaussianBlur(gx * gx + gy * gy, (0, 0), 2.0)


class RegionMeter:
    """Mean head-free flow vectors of the regions, for one face (landmarks in the measured image).

    ``names`` orders the output columns: the expression regions, then the eyes.
    """

    def __init__(self, landmarks: np.ndarray, shape: tuple[int, int], algorithm: str = "farneback"):
        self.names = (*REGIONS, *EYES)
        self.algorithm = algorithm
        size = max(shape)
        self._boxes = region_boxes(landmarks, size, {**REGIONS, **EYES})
        self._mask = face_mask(*shape)
        for y0, y1, x0, x1 in self._boxes.values():  # the head's fit on the skin no expression moves
            self._mask[y0:y1, x0:x1] = False

    def vectors(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        """``R x 2`` mean flow of each region from grey ``first`` to ``second``, the head's removed."""
        weight = texture(first)
        residual = remove_rigid_motion(optical_flow(first, second, self.algorithm), self._mask, weight)

        def mean(box: tuple) -> np.ndarray:
            y0, y1, x0, x1 = box
            w = weight[y0:y1, x0:x1, None]
            return (residual[y0:y1, x0:x1] * w).reshape(-1, 2).sum(0) / max(float(w.sum()), 1e-9)

        return np.stack([mean(self._boxes[name]) for name in self.names])


def onset_vectors(grey: np.ndarray, meter: RegionMeter) -> np.ndarray:
    """``N x R x 2``: each region's displacement at every frame from the first (the onset)."""
    out = np.zeros((len(grey), len(meter.names), 2))
    for i in range(1, len(grey)):
        out[i] = meter.vectors(grey[0], grey[i])
    return out


def excursion(displacement: np.ndarray, reach: int) -> np.ndarray:
    """``N x R``: how far each region moves out to each frame and back within ``reach`` frames.

    ``displacement`` is ``N x R x 2`` (from any fixed frame); ``a`` the motion over the ``reach``
    frames before, ``b`` over those after (the ends held), the score ``sqrt(max(0, -a . b))``.
    """
    n = len(displacement)
    ends = np.repeat(displacement[:1], reach, 0), np.repeat(displacement[-1:], reach, 0)
    padded = np.concatenate([ends[0], displacement, ends[1]])
    before = displacement - padded[:n]
    after = padded[2 * reach :] - displacement
    return np.sqrt(np.clip(-(before * after).sum(axis=2), 0, None))


def region_curves(
    displacement: np.ndarray,
    names: Sequence[str],
    *,
    smoothing: float = 1 / 20,
    reach: float = 1 / 4,
    share: float = EXCURSION_SHARE,
) -> dict[str, np.ndarray]:
    """Each region's apex curve of an onset-to-offset clip (``displacement`` ``N x R x 2`` from the
    onset, smoothed over ``smoothing`` of the clip): its distance from the onset scaled to its peak
    excursion (reaching ``reach`` of the clip), plus ``share`` of that excursion."""
    n = len(displacement)
    smooth = gaussian_filter1d(displacement, max(1.0, n * smoothing), axis=0, mode="nearest")
    turns = excursion(smooth, max(1, round(n * reach)))
    distance = np.linalg.norm(smooth, axis=2)
    scores = distance * turns.max(axis=0) / np.maximum(distance.max(axis=0), 1e-9) + share * turns
    return {name: scores[:, i] for i, name in enumerate(names)}


def expression_curve(curves: Mapping[str, np.ndarray]) -> np.ndarray:
    """The clip's motion: the sum of the expression regions' curves (the eyes left out)."""
    return np.sum([curves[name] for name in REGIONS], axis=0)


@dataclass(frozen=True)
class ApexPrior:
    """Where the apex lies in onset..offset before any motion is seen: a Gaussian over the fraction
    of the interval, ``mean`` from annotated clips (:meth:`fit`), ``sd`` the prior's say against the
    motion curve (it tempers an uncalibrated curve as much as it describes the data, so it is chosen
    by nested validation, not fitted: ``benchmarks/apex_settings.py``)."""

    mean: float = APEX_FRACTION
    sd: float = PRIOR_SD

    @classmethod
    def fit(cls, onsets: Sequence[int], apexes: Sequence[int], offsets: Sequence[int], *, sd: float = PRIOR_SD):
        """The prior whose mean is the clips' mean apex fraction."""
        on, apex, off = (np.asarray(v, dtype=float) for v in (onsets, apexes, offsets))
        return cls(mean=float(np.mean((apex - on) / np.maximum(off - on, 1))), sd=sd)

    def weights(self, n: int) -> np.ndarray:
        """The prior's weight of each of ``n`` frames (peak 1)."""
        fraction = np.arange(n) / max(n - 1, 1)
        return np.exp(-0.5 * ((fraction - self.mean) / self.sd) ** 2)


def apex_index(curve: np.ndarray, prior: ApexPrior = ApexPrior()) -> int:
    """Index of the frame with the most posterior weight: the motion curve times the ``prior``; a clip
    with no motion at all gets the prior's own guess."""
    weights = prior.weights(len(curve))
    if not np.any(curve > 0):
        return int(np.argmax(weights))
    return int(np.argmax(curve * weights))
