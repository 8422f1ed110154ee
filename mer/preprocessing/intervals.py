"""Micro-expression intervals in footage of any length, from the landmark regions' motion.

The video is read at about ``rate`` frames a second (every frame up to that), in windows of
``window`` seconds; the face is located afresh at each window's start (:func:`face_track`), so a
head that wanders over minutes stays in its crop. Each step between consecutive frames read gives
each region's head-free flow (:class:`mer.preprocessing.regions.RegionMeter`); summed, the steps
are the regions' displacement over the whole video.

A micro-expression is a brief movement out and back: each frame scores the regions' excursion
(:func:`mer.preprocessing.regions.excursion`, ``reach`` seconds either side, the typical onset to
apex time). A head turn or a slow drift goes one way and scores nothing; a blink is in the eyes,
left out. Runs of frames moving more than the video's noise (``activity`` robust deviations above
its median), merged where less than ``gap`` apart, are candidates; one peaking above ``threshold``
deviations is a movement, and one longer than ``max_duration`` (talking, chewing: motion that keeps
coming back) is no micro-expression (hysteresis thresholding: a strong peak, then its extent at the
weaker level). Onset and offset are where the regions come within ``settle`` of the peak's
displacement of the neutral face, the neutral face taken ``max_duration`` before and after the run's
peak; the apex is then placed in onset..offset as the clip apex spotter places it
(:func:`curve_apex`). The threshold and the apex's placement were chosen by nested subject-
independent validation on casme2_dev's clips joined per subject (``benchmarks/spotting.py
--thresholds``, docs/spotting.md).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from mer.data.faces import NoFaceError, face_track, transform_points
from mer.data.frames import FrameSource, open_frames
from mer.preprocessing.motion import to_grey
from mer.preprocessing.regions import (
    EYES,
    REGIONS,
    RegionMeter,
    apex_index,
    excursion,
    expression_curve,
    region_curves,
)

log = logging.getLogger(__name__)

CHUNK = 64  # frames decoded at a time


@dataclass(frozen=True)
class Settings:
    """Spotting parameters, in seconds where they are times (so alike at 30 and 200 fps)."""

    rate: float = 50.0  # frames analysed a second, at most
    window: float = 10.0  # the face is located again every this many seconds
    reach: float = 0.15  # onset to apex of a typical micro-expression
    max_duration: float = 0.5  # the longest micro-expression (MEGC's bound)
    threshold: float = 12.0  # a movement peaks this many robust deviations above the median excursion (nested choice)
    activity: float = 4.0  # and its extent is where the excursion is this many above
    gap: float = 0.2  # runs of activity closer than this (seconds) are one
    settle: float = 0.2  # onset/offset: this fraction of the apex's displacement
    work_width: int = 128  # side of the face crop the flow is computed on
    apex: str = "curve"  # the clip apex spotter on onset..offset (nested choice), or "excursion": the run's peak


@dataclass(frozen=True)
class Interval:
    onset: int
    apex: int
    offset: int
    score: float  # the apex's excursion over the threshold (1: just spotted)


@dataclass(frozen=True)
class VideoMotion:
    """The regions' displacement (``N x R x 2``, pixels of the face crop) at frame ``numbers``."""

    numbers: np.ndarray
    displacement: np.ndarray
    names: tuple[str, ...]
    step: int  # frames between consecutive entries of ``numbers``


def _windows(numbers: np.ndarray, size: int) -> Iterator[np.ndarray]:
    """Consecutive windows of ``size`` frames, each sharing its last frame with the next."""
    for start in range(0, len(numbers) - 1, size):
        yield numbers[start : start + size + 1]


def _steps(
    source: FrameSource, path: Path, numbers: np.ndarray, settings: Settings, cache_dir, progress: tqdm
) -> np.ndarray:
    """``(len(numbers) - 1) x R x 2``: each region's flow from one frame to the next (zero where the
    window has no face)."""
    steps = np.zeros((len(numbers) - 1, len(REGIONS) + len(EYES), 2))
    try:
        track = face_track(path, int(numbers[0]), mode="crop", size=settings.work_width, cache_dir=cache_dir)
    except NoFaceError as error:
        log.warning("%s", error)
        progress.update(len(numbers) - 1)
        return steps
    meter = RegionMeter(transform_points(track.landmarks, track.matrix), (settings.work_width,) * 2)
    previous = None
    i = -1
    for start in range(0, len(numbers), CHUNK):
        frames = source.read([int(n) for n in numbers[start : start + CHUNK]])
        for grey in to_grey(track.apply(frames), settings.work_width):
            if previous is not None:
                steps[i] = meter.vectors(previous, grey)
                progress.update()
            previous, i = grey, i + 1
    return steps


def video_motion(
    path: str | Path,
    fps: float,
    settings: Settings = Settings(),
    *,
    cache_dir: str | Path | None = None,
    first: int | None = None,
    last: int | None = None,
    progress: bool = True,
) -> VideoMotion:
    """The regions' displacement through a video (or a folder of frames) from ``first`` to ``last``."""
    path = Path(path)
    source = open_frames(path)
    first = source.first if first is None else first
    last = source.last if last is None else last
    step = max(1, int(round(fps / settings.rate)))
    numbers = np.arange(first, last + 1, step)
    if len(numbers) < 2:
        raise ValueError(f"{path}: {len(numbers)} frame(s) from {first} to {last}; spotting needs two or more")
    size = max(1, int(round(settings.window * fps / step)))
    with tqdm(total=len(numbers) - 1, desc=f"spotting {path.name}", unit="frame", disable=not progress) as bar:
        steps = [_steps(source, path, w, settings, cache_dir, bar) for w in _windows(numbers, size)]
    displacement = np.concatenate([np.zeros((1, *steps[0].shape[1:])), np.cumsum(np.concatenate(steps), axis=0)])
    return VideoMotion(numbers, displacement, (*REGIONS, *EYES), step)


def excursion_score(motion: VideoMotion, fps: float, settings: Settings = Settings()) -> np.ndarray:
    """Each frame's excursion, summed over the expression regions (the eyes left out)."""
    reach = max(1, int(round(settings.reach * fps / motion.step)))
    return excursion(motion.displacement[:, : len(REGIONS)], reach).sum(axis=1)


def noise_threshold(score: np.ndarray, deviations: float) -> float:
    """``deviations`` robust standard deviations (1.4826 MAD) above the median: most frames of a
    video hold no micro-expression, so its median and MAD are the noise's."""
    median = float(np.median(score))
    spread = 1.4826 * float(np.median(np.abs(score - median)))
    return median + deviations * max(spread, 1e-6)


def _runs(above: np.ndarray, gap: int) -> list[tuple[int, int]]:
    """``[start, end)`` runs of True, merging runs fewer than ``gap`` entries apart."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], above.astype(int), [0]])))
    runs: list[list[int]] = []
    for start, end in zip(edges[::2], edges[1::2], strict=True):
        if runs and start - runs[-1][1] < gap:
            runs[-1][1] = end
        else:
            runs.append([start, end])
    return [(a, b) for a, b in runs]


def _bounds(displacement: np.ndarray, apex: int, span: int, settle: float) -> tuple[int, int]:
    """Onset and offset indices around ``apex``: the last before and the first after it where the
    regions are within ``settle`` of the apex's distance from the neutral face (the line between
    the displacements ``span`` before and after the apex, so drift does not count)."""
    lo, hi = max(0, apex - span), min(len(displacement) - 1, apex + span)
    part = displacement[lo : hi + 1]
    t = np.linspace(0, 1, len(part))[:, None, None]
    neutral = part[0] + t * (part[-1] - part[0])
    away = np.linalg.norm(part - neutral, axis=2).sum(axis=1)
    peak = apex - lo
    near = away <= settle * away[peak]
    before = np.flatnonzero(near[:peak])
    after = np.flatnonzero(near[peak + 1 :])
    onset = lo + (before[-1] if before.size else 0)
    offset = lo + (peak + 1 + after[0] if after.size else len(part) - 1)
    return onset, offset


def curve_apex(displacement: np.ndarray, onset: int, offset: int, fallback: int) -> int:
    """The apex of onset..offset as :func:`mer.preprocessing.regions.apex_index` spots a clip's
    (the regions' apex curves from the onset under the apex prior); ``fallback`` for a span too
    short to have a curve."""
    if offset - onset < 2:
        return fallback
    segment = displacement[onset : offset + 1] - displacement[onset]
    return onset + apex_index(expression_curve(region_curves(segment, list(REGIONS))))


def spot_intervals(motion: VideoMotion, fps: float, settings: Settings = Settings()) -> list[Interval]:
    """The micro-expression intervals of a video, in its frame numbers, in time order."""
    score = excursion_score(motion, fps, settings)
    threshold = noise_threshold(score, settings.threshold)
    per_second = fps / motion.step
    longest = settings.max_duration * per_second
    span = max(2, int(round(settings.max_duration * per_second)))
    found = []
    for start, end in _runs(score > noise_threshold(score, settings.activity), settings.gap * per_second):
        if end - start > longest or score[start:end].max() <= threshold:
            continue
        apex = start + int(np.argmax(score[start:end]))
        onset, offset = _bounds(motion.displacement[:, : len(REGIONS)], apex, span, settings.settle)
        if settings.apex == "curve":
            apex = curve_apex(motion.displacement[:, : len(REGIONS)], onset, offset, apex)
        n = motion.numbers
        found.append(Interval(int(n[onset]), int(n[apex]), int(n[offset]), float(score[apex] / threshold)))
    return found
