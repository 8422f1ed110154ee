"""Interval spotting in long video: MEGC F1 on synthetic long videos with distractors, and a smoke
run on real footage.

    python benchmarks/spotting.py                        # 3 synthetic minutes at 100 fps, seed 7
    python benchmarks/spotting.py --videos 2 --seconds 60 --fps 200 --seed 8
    python benchmarks/spotting.py --real ../shared/data/real_video/single_face.mp4

Prints the hits, precision, recall and F1 (a hit: IoU >= 0.5 with a true interval), the mean and
maximum apex error of the hits in frames, and the seconds spotting took per minute of video (one
process). Each video holds a micro-expression every ~10 s among blinks, talking and head turns
(:mod:`mer.datasets.synthetic_long`). Apex error on real clips: ``benchmarks/apex_spotting.py``.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

import numpy as np

from mer.datasets.synthetic_long import generate_long
from mer.preprocessing.intervals import Settings, spot_intervals, video_motion
from mer.preprocessing.spotting_metric import HIT_IOU, iou, score


def synthetic(videos: int, seconds: float, fps: int, seed: int, settings: Settings) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = generate_long(Path(tmp) / "long", num_videos=videos, seconds=seconds, seed=seed, fps=fps)
        truth: dict[str, list[tuple[int, int, int]]] = {}
        for row in csv.DictReader((root / "annotations.csv").open()):
            truth.setdefault(row["clip"], []).append((int(row["onset"]), int(row["apex"]), int(row["offset"])))
        spotted = {}
        start = time.perf_counter()
        for video in sorted(p.relative_to(root).as_posix() for p in (root / "videos").glob("*.mp4")):
            motion = video_motion(root / video, fps, settings, cache_dir=Path(tmp) / "cache")
            spotted[video] = spot_intervals(motion, fps, settings)
            truth.setdefault(video, [])
        seconds_taken = time.perf_counter() - start
    result = score(
        {v: [(i.onset, i.offset) for i in s] for v, s in spotted.items()},
        {v: [(a, c) for a, _, c in t] for v, t in truth.items()},
    )
    errors = [
        abs(i.apex - b)
        for v, s in spotted.items()
        for i in s
        for a, b, c in truth[v]
        if iou((i.onset, i.offset), (a, c)) >= HIT_IOU
    ]
    print(f"{videos} synthetic video(s) of {seconds:g} s at {fps} fps (seed {seed}): {result}")
    if errors:
        print(f"apex error of the hits: mean {np.mean(errors):.2f} frames, max {max(errors)}")
    print(f"spotting: {seconds_taken / (videos * seconds / 60):.1f} s per minute of video")


def real(video: Path, settings: Settings) -> None:
    from mer.spot import spot_video

    start = time.perf_counter()
    found = spot_video(video, None, settings, None)
    print(f"{video}: {len(found)} interval(s) in {time.perf_counter() - start:.1f} s: {found}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--fps", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--real", type=Path, help="also spot this real video (a smoke test: no truth)")
    args = parser.parse_args()
    settings = Settings()
    synthetic(args.videos, args.seconds, args.fps, args.seed, settings)
    if args.real:
        real(args.real, settings)


if __name__ == "__main__":
    main()
