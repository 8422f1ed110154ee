"""Synthetic long videos for spotting: minutes of one cartoon face (:mod:`mer.datasets.synthetic`)
holding a few micro-expressions among the motions a spotter must not take for one.

The skin carries a fine texture that moves with the head (:func:`mer.datasets.synthetic.skin_texture`),
as a real face's does. Distractors: blinks every few seconds, talking (the jaw and upper lip opening
and closing at 3-5 Hz for seconds at a time, larger than any micro-expression), head turns (the head
glides to a new pose a few pixels away over half a second or more) on top of a slow sway and
tremor, and sensor noise.
Micro-expressions last 0.25-0.5 s and never overlap talking or each other, so their intervals are
the truth. Everything is deterministic per seed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from mer.atomic import write_csv_atomic
from mer.data.annotations import CANONICAL_COLUMNS
from mer.data.frames import write_video
from mer.datasets.synthetic import (
    DFME_COUNTS,
    EMOTION_ACTIONS,
    Face,
    action_units,
    intensity_profile,
    random_face,
    render_face,
    skin_texture,
)


@dataclass(frozen=True)
class Expression:
    emotion: str
    onset: int
    apex: int
    offset: int


@dataclass(frozen=True)
class LongPlan:
    """One video's timeline, in frames: micro-expressions (the truth) and distractors."""

    name: str
    num_frames: int
    fps: int
    expressions: tuple[Expression, ...]
    blinks: tuple[int, ...]  # centre frames
    talking: tuple[tuple[int, int, float], ...]  # start, end, frequency (Hz)
    poses: tuple[tuple[int, int, float, float], ...]  # start, end of a turn, and the pose (x, y px) it ends at


def _free(busy: list[tuple[int, int]], start: int, end: int, gap: int) -> bool:
    return all(end + gap <= a or start >= b + gap for a, b in busy)


def plan_long_video(name: str, seconds: float, fps: int, rng: np.random.Generator, *, expressions: int) -> LongPlan:
    """Talking about a fifth of the time, a turn every ~8 s, a blink every ~3 s, and ``expressions``
    micro-expressions placed at least a second from talking and from each other."""
    n = int(round(seconds * fps))
    busy: list[tuple[int, int]] = []
    talking = []
    for _ in range(max(1, int(seconds / 12))):
        length = int(rng.uniform(1.5, 3.0) * fps)
        start = int(rng.integers(0, max(1, n - length)))
        if _free(busy, start, start + length, fps):
            talking.append((start, start + length, float(rng.uniform(3, 5))))
            busy.append((start, start + length))
    emotions = list(DFME_COUNTS)
    p = np.array([DFME_COUNTS[e] for e in emotions], dtype=float)
    placed: list[Expression] = []
    for _ in range(200 * expressions):
        if len(placed) == expressions:
            break
        length = int(rng.uniform(0.25, 0.5) * fps)
        onset = int(rng.integers(fps // 2, n - length - fps // 2))
        if _free(busy, onset, onset + length, fps):
            apex = onset + int(round(rng.uniform(0.3, 0.6) * length))
            placed.append(Expression(emotions[rng.choice(len(emotions), p=p / p.sum())], onset, apex, onset + length))
            busy.append((onset, onset + length))
    placed.sort(key=lambda e: e.onset)
    blinks = tuple(int(b) for b in np.cumsum(rng.uniform(1.5, 4.5, int(seconds / 1.5) + 1) * fps) if b < n)
    poses = []
    t = 0
    while True:
        t += int(rng.uniform(4, 12) * fps)
        length = int(rng.uniform(0.5, 1.5) * fps)
        if t + length >= n:
            break
        poses.append((t, t + length, *rng.uniform(-4, 4, 2).tolist()))
        t += length
    return LongPlan(name, n, fps, tuple(placed), blinks, tuple(talking), tuple(poses))


def head_path(plan: LongPlan, rng: np.random.Generator, jitter: float) -> np.ndarray:
    """``N x 2`` head position in pixels: turns between poses (smooth steps), a slow sway (a
    mean-reverting walk of about a pixel) and ``jitter`` pixels of tremor."""
    n = plan.num_frames
    position = np.zeros((n, 2))
    previous = np.zeros(2)
    for start, end, x, y in plan.poses:
        s = np.clip((np.arange(n) - start) / (end - start), 0, 1)
        position += (s * s * (3 - 2 * s))[:, None] * (np.array([x, y]) - previous)
        previous = np.array([x, y])
    sway = np.zeros((n, 2))
    keep = np.exp(-1 / (2.0 * plan.fps))  # a 2 s time constant
    for i in range(1, n):
        sway[i] = keep * sway[i - 1] + rng.normal(0, np.sqrt(1 - keep**2), 2)
    return position + sway + rng.normal(0, jitter, (n, 2))


def _actions(plan: LongPlan, i: int, levels: np.ndarray) -> tuple[dict[str, float], float]:
    """The facial actions and the blink at frame ``i``; ``levels`` are the expressions' intensities."""
    actions: dict[str, float] = {}
    for e, level in zip(plan.expressions, levels[:, i], strict=True):
        for name, value in EMOTION_ACTIONS[e.emotion].items():
            actions[name] = actions.get(name, 0.0) + value * level
    for start, end, hz in plan.talking:
        if start <= i < end:
            opening = 0.5 - 0.5 * np.cos(2 * np.pi * hz * (i - start) / plan.fps)
            actions["jaw"] = actions.get("jaw", 0.0) + 0.9 * opening
            actions["upper_lip"] = actions.get("upper_lip", 0.0) + 0.3 * opening
    half = 0.075 * plan.fps  # a 150 ms blink
    blink = max([0.0, *(1 - abs(i - b) / half for b in plan.blinks if abs(i - b) < half)])
    return actions, blink


def render_long(
    face: Face, plan: LongPlan, rng: np.random.Generator, *, size: int, amplitude: float, jitter: float, noise: float
) -> Iterator[np.ndarray]:
    """The video's frames one at a time (``size x size x 3`` uint8)."""
    shifts = head_path(plan, rng, jitter)
    texture = skin_texture(rng)
    levels = np.array(
        [intensity_profile(plan.num_frames, e.onset, e.apex, e.offset) * amplitude for e in plan.expressions]
    )
    for i in range(plan.num_frames):
        actions, blink = _actions(plan, i, levels.reshape(len(plan.expressions), plan.num_frames))
        image = render_face(face, actions, size=size, shift=tuple(shifts[i] * 2 / size), blink=blink, texture=texture)
        yield np.clip(image * 255 + rng.normal(0, noise, image.shape), 0, 255).astype(np.uint8)


def generate_long(
    root: Path,
    *,
    num_videos: int,
    seconds: float,
    seed: int,
    fps: int = 100,
    expressions: int | None = None,
    frame_size: int = 96,
    amplitude: float = 1.0,
    jitter: float = 0.1,
    noise: float = 2.0,
) -> Path:
    """Write ``videos/<name>.mp4`` and ``annotations.csv`` (the micro-expressions' intervals, the
    canonical CSV) under ``root``, atomically: all or nothing. ``expressions`` per video defaults
    to one every 10 s."""
    rng = np.random.default_rng(seed)
    tmp = root.with_name(root.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    rows = []
    for v in range(1, num_videos + 1):
        name = f"long{v:02d}"
        face = random_face(rng)
        plan = plan_long_video(name, seconds, fps, rng, expressions=expressions or max(1, int(seconds / 10)))
        stream = np.random.default_rng([seed, int(hashlib.md5(name.encode()).hexdigest()[:8], 16)])
        frames = render_long(face, plan, stream, size=frame_size, amplitude=amplitude, jitter=jitter, noise=noise)
        progress = tqdm(frames, total=plan.num_frames, unit="frame", desc=f"rendering {name}", leave=False)
        write_video(tmp / "videos" / f"{name}.mp4", progress, fps)
        for e in plan.expressions:
            rows.append(
                (name, f"videos/{name}.mp4", e.onset, e.apex, e.offset, e.emotion, action_units(e.emotion), fps)
            )
    write_csv_atomic(tmp / "annotations.csv", CANONICAL_COLUMNS, rows)
    root.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(root, ignore_errors=True)
    tmp.rename(root)
    return root
