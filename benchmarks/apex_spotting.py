"""Apex spotting accuracy and speed: landmark regions, whole-face flow and frame differencing,
on clips with a known apex.

    python benchmarks/apex_spotting.py                          # synthetic clips with head jitter
    python benchmarks/apex_spotting.py --real ../shared/data/casme2_dev/annotations.csv \\
        --real-root ../shared/data/casme2_dev/Cropped           # real clips with an annotated apex

Prints, for each method, the mean, maximum and median absolute apex error in frames, how much
worse than the middle of onset..offset its worst clip is, and clips per second; then the middle
frame's own error. Every clip of the CSV counts (its emotions are all classes here). Landmarks are
cached under ``$MER_CACHE/clips`` as training caches them.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

import numpy as np

from mer.data.annotations import Sample
from mer.datasets.synthetic import generate
from mer.preprocessing.extract_apex import SPOT_METHODS, Options, compose_dataset, extract, load_samples


def annotated_clips(annotations: Path, root: Path) -> tuple[list[Sample], Path]:
    """Every clip of a canonical CSV (each of its emotions a class), and the landmark cache."""
    rows = list(csv.DictReader(annotations.open()))
    emotions = ",".join(sorted({r["emotion"] for r in rows}))
    cfg = compose_dataset(
        [
            "dataset=csv",
            f"dataset.classes.names=[{emotions}]",
            "dataset.classes.map={}",
            f"dataset.root={root}",
            f"dataset.annotations={annotations}",
        ]
    )
    return load_samples(cfg), Path(cfg.trainer.clip_cache_dir).expanduser()


def spot(annotations: Path, root: Path, workers: int | None, methods: list[str]) -> None:
    """Print each method's apex error on the CSV's clips as a markdown table, and the midpoint's."""
    rows = list(csv.DictReader(annotations.open()))
    samples, cache = annotated_clips(annotations, root)
    key = lambda r: (r["clip"], int(r["onset"]), int(r["offset"]))  # noqa: E731
    truth = {key(r): int(r["apex"]) for r in rows}
    middle = {key(r): abs((int(r["onset"]) + int(r["offset"])) // 2 - int(r["apex"])) for r in rows}
    print(f"{len(samples)} clips from {annotations}")
    print("| method | mean abs error (frames) | max | median | worst clip minus midpoint | clips/s |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for method in methods:
            out = Path(tmp) / f"{method}.csv"
            options = Options(method=method, overwrite=True, face_cache=cache)
            start = time.perf_counter()
            errors = extract(samples, out, options, root=root, workers=workers)
            seconds = time.perf_counter() - start
            if errors:
                print(*errors, sep="\n")
            got = list(csv.DictReader(out.open()))
            e = np.array([abs(int(r["apex"]) - truth[key(r)]) for r in got])
            worse = max(abs(int(r["apex"]) - truth[key(r)]) - middle[key(r)] for r in got)
            print(f"| {method} | {e.mean():.2f} | {e.max()} | {np.median(e):.1f} | {worse} | {len(e) / seconds:.1f} |")
    m = np.array(list(middle.values()))
    print(f"| middle frame | {m.mean():.2f} | {m.max()} | {np.median(m):.1f} | 0 | - |\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subjects", type=int, default=4)
    parser.add_argument("--clips", type=int, default=10, help="clips per subject")
    parser.add_argument("--jitter", type=float, default=0.12, help="head random-walk step, pixels per frame")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument(
        "--frame-sizes", type=int, nargs="+", default=[96], help="synthetic frame sides (96: 79-px faces)"
    )
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--real", type=Path, help="a canonical CSV of real clips with annotated apexes")
    parser.add_argument("--real-root", type=Path)
    parser.add_argument("--methods", nargs="+", choices=SPOT_METHODS, default=list(SPOT_METHODS))
    args = parser.parse_args()
    for size in args.frame_sizes:
        with tempfile.TemporaryDirectory() as tmp:
            root = generate(
                Path(tmp) / "clips",
                num_subjects=args.subjects,
                clips_per_subject=args.clips,
                seed=args.seed,
                jitter=args.jitter,
                frame_size=size,
            )
            print(f"synthetic frames {size} x {size}, head jitter {args.jitter} px a frame")
            spot(root / "annotations.csv", root, args.workers, args.methods)
    if args.real:
        spot(args.real, args.real_root or args.real.parent, args.workers, args.methods)


if __name__ == "__main__":
    main()
