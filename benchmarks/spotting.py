"""Interval spotting in long video: MEGC F1 on synthetic long videos with distractors, and a smoke
run on real footage.

    python benchmarks/spotting.py                        # 3 synthetic minutes at 100 fps, seed 7
    python benchmarks/spotting.py --videos 2 --seconds 60 --fps 200 --seed 8
    python benchmarks/spotting.py --real ../shared/data/real_video/single_face.mp4
    python benchmarks/spotting.py --videos 0 --casme2 ../shared/data/casme2_dev/annotations.csv \\
        --casme2-root ../shared/data/casme2_dev/Cropped --subjects sub01 sub02 sub03 [--keep DIR]

Prints the hits, precision, recall and F1 (a hit: IoU >= 0.5 with a true interval), the mean and
maximum apex error of the hits in frames, and the seconds spotting took per minute of video (one
process). Each video holds a micro-expression every ~10 s among blinks, talking and head turns
(:mod:`mer.datasets.synthetic_long`). Apex error on real clips: ``benchmarks/apex_spotting.py``.

``--casme2``: real micro-expressions in a long video. The cropped CASME II release holds only each
clip's onset..offset, so each subject's clips are joined into one 200 fps video, every clip between
a second of its own onset frame before and of its offset frame after (still frames under 2 grey
levels of sensor noise, as a camera gives): the truth is each clip's interval, and a cut between
clips is a one-way jump that scores no excursion. ``--keep DIR`` keeps the videos and their
``annotations.csv`` (for ``python -m mer.spot dataset=csv dataset.root=DIR``). ``--subjects all``
joins every subject of the CSV. ``--thresholds 4 6 8 10``: the peak threshold chosen by nested
validation over the joined videos (one a subject): each subject's video is spotted with the
threshold that gives the best F1 on the other subjects' videos; prints each threshold's F1 on all
videos (in-sample), the nested F1 and the threshold all subjects choose.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from mer.datasets.synthetic_long import generate_long
from mer.evaluation.nested import nested_choices, nested_errors
from mer.preprocessing.intervals import Settings, VideoMotion, spot_intervals, video_motion
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


def joined_casme2(annotations: Path, root: Path, subjects: list[str], out: Path, fps: int = 200) -> dict[str, int]:
    """Each subject's clips joined into ``out/<subject>.mp4`` (256 x 256), with ``annotations.csv``;
    returns each video's number of frames."""
    import cv2

    from mer.atomic import write_text_atomic
    from mer.data.frames import open_frames, write_video

    rng = np.random.default_rng(0)
    rows = list(csv.DictReader(annotations.open()))
    lines = ["subject,clip,onset,apex,offset,emotion,au,fps"]
    lengths = {}
    for subject in subjects:
        clips = [r for r in rows if r["subject"] == subject]
        at = 0
        for r in clips:
            onset, apex, offset = int(r["onset"]), int(r["apex"]), int(r["offset"])
            start = at + fps
            lines.append(
                f"{subject},{subject}.mp4,{start},{start + apex - onset},{start + offset - onset},{r['emotion']},,{fps}"
            )
            at = start + offset - onset + 1 + fps

        def frames(clips=clips):
            for r in clips:
                numbers = list(range(int(r["onset"]), int(r["offset"]) + 1))
                clip = [
                    cv2.resize(f, (256, 256), interpolation=cv2.INTER_AREA)
                    for f in open_frames(root / r["clip"]).read(numbers)
                ]
                for frame in [clip[0]] * fps + clip + [clip[-1]] * fps:
                    yield np.clip(frame + rng.normal(0, 2, frame.shape), 0, 255).astype(np.uint8)

        write_video(out / f"{subject}.mp4", frames(), fps)
        lengths[f"{subject}.mp4"] = at
    write_text_atomic(out / "annotations.csv", "\n".join(lines) + "\n")
    return lengths


def casme2(
    annotations: Path, root: Path, subjects: list[str], keep: Path | None, settings: Settings, thresholds: list[float]
) -> None:
    if subjects == ["all"]:
        subjects = sorted({r["subject"] for r in csv.DictReader(annotations.open())})
    with tempfile.TemporaryDirectory() as tmp:
        out = keep or Path(tmp) / "joined"
        lengths = joined_casme2(annotations, root, subjects, out)
        truth: dict[str, list[tuple[int, int, int]]] = {}
        for row in csv.DictReader((out / "annotations.csv").open()):
            truth.setdefault(row["clip"], []).append((int(row["onset"]), int(row["apex"]), int(row["offset"])))
        start = time.perf_counter()
        motions = {video: video_motion(out / video, 200, settings, cache_dir=Path(tmp) / "c") for video in truth}
        found = {video: spot_intervals(motion, 200, settings) for video, motion in motions.items()}
        seconds = time.perf_counter() - start
    result = score(
        {v: [(i.onset, i.offset) for i in s] for v, s in found.items()},
        {v: [(a, c) for a, _, c in t] for v, t in truth.items()},
    )
    errors = [
        abs(i.apex - b)
        for v, s in found.items()
        for i in s
        for a, b, c in truth[v]
        if iou((i.onset, i.offset), (a, c)) >= HIT_IOU
    ]
    minutes = sum(lengths.values()) / 200 / 60
    print(f"CASME II clips of {', '.join(subjects)} joined ({minutes:.1f} min at 200 fps): {result}")
    if errors:
        print(f"apex error of the hits: mean {np.mean(errors):.2f} frames, max {max(errors)}")
    print(f"spotting: {seconds / minutes:.1f} s per minute of video")
    if thresholds:
        nested_thresholds(motions, truth, settings, thresholds)


def nested_thresholds(
    motions: dict[str, VideoMotion], truth: dict[str, list[tuple[int, int, int]]], settings: Settings, thresholds
) -> None:
    """Each threshold's F1 over all videos, and the F1 when each video (one subject's) is spotted
    with the threshold best on the others."""
    videos = sorted(motions)
    true = {v: [(a, c) for a, _, c in truth[v]] for v in videos}
    found = {
        t: {
            v: [(i.onset, i.offset) for i in spot_intervals(motions[v], 200, replace(settings, threshold=t))]
            for v in videos
        }
        for t in thresholds
    }

    def on(t: float, chosen: list[str]):
        return score({v: found[t][v] for v in chosen}, {v: true[v] for v in chosen})

    for t in thresholds:
        print(f"threshold {t:g} (in-sample, all videos): {on(t, videos)}")

    def choose(train: np.ndarray) -> int:
        kept = [v for v, k in zip(videos, train, strict=True) if k]
        return int(np.argmax([on(t, kept).f1 for t in thresholds]))

    chosen = nested_choices(choose, videos)
    nested = score({v: found[thresholds[chosen[v]]][v] for v in videos}, true)
    picks = sorted({thresholds[c] for c in chosen.values()})
    everyone = thresholds[choose(np.ones(len(videos), dtype=bool))]
    print(f"nested (each subject's threshold chosen on the others): {nested}; thresholds chosen {picks}")
    print(f"the threshold all subjects choose: {everyone:g}")
    apex_errors(motions, truth, replace(settings, threshold=everyone))


def apex_errors(motions: dict[str, VideoMotion], truth: dict[str, list[tuple[int, int, int]]], settings) -> None:
    """The hits' apex error with each way of placing an interval's apex, and with the way chosen on
    the other subjects' hits (nested)."""
    modes = ("excursion", "curve")
    rows, subjects = [], []
    for video, motion in motions.items():
        spotted = {m: spot_intervals(motion, 200, replace(settings, apex=m)) for m in modes}
        for a, b, c in truth[video]:
            hit = [i for i in spotted[modes[0]] if iou((i.onset, i.offset), (a, c)) >= HIT_IOU]
            if hit:  # both modes give the same intervals; only their apex differs
                k = spotted[modes[0]].index(hit[0])
                rows.append([abs(spotted[m][k].apex - b) for m in modes])
                subjects.append(video)
    table = np.array(rows, dtype=float).T
    nested, _ = nested_errors(lambda train: table, subjects)
    means = ", ".join(f"{m} {e.mean():.2f} (max {e.max():.0f})" for m, e in zip(modes, table, strict=True))
    print(
        f"apex error of the {len(rows)} hits at threshold {settings.threshold:g}: {means}; nested {nested.mean():.2f}"
    )


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
    parser.add_argument("--casme2", type=Path, help="canonical CSV of cropped CASME II clips to join per subject")
    parser.add_argument("--casme2-root", type=Path)
    parser.add_argument("--subjects", nargs="+", default=["sub01", "sub02", "sub03"])
    parser.add_argument("--keep", type=Path, help="keep the joined CASME II videos here")
    parser.add_argument("--thresholds", type=float, nargs="+", default=[], help="choose among these, nested")
    args = parser.parse_args()
    settings = Settings()
    if args.videos:
        synthetic(args.videos, args.seconds, args.fps, args.seed, settings)
    if args.casme2:
        root = args.casme2_root or args.casme2.parent
        casme2(args.casme2, root, args.subjects, args.keep, settings, args.thresholds)
    if args.real:
        real(args.real, settings)


if __name__ == "__main__":
    main()
