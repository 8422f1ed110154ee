"""Apex spotting accuracy and speed: flow against frame differencing, on clips with a known apex.

    python benchmarks/apex_spotting.py                          # synthetic clips with head jitter
    python benchmarks/apex_spotting.py --real ../shared/data/casme2_subset/annotations.csv \\
        --real-root ../shared/data/casme2_subset/Cropped        # real clips with an annotated apex

Prints the mean and maximum absolute apex error in frames, and clips per second (all cores), for
each method; for real clips also the error of simply taking the middle frame.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

import numpy as np

from mer.datasets.synthetic import generate
from mer.preprocessing.extract_apex import Options, compose_dataset, extract, load_samples
from mer.preprocessing.motion import METHODS


def spot(annotations: Path, root: Path, workers: int | None, classes: str = "dfme7") -> None:
    rows = list(csv.DictReader(annotations.open()))
    samples = load_samples(
        compose_dataset(
            ["dataset=csv", f"dataset/classes={classes}", f"dataset.root={root}", f"dataset.annotations={annotations}"]
        )
    )
    truth = {r["clip"]: int(r["apex"]) for r in rows}
    middle = np.array([abs((int(r["onset"]) + int(r["offset"])) // 2 - int(r["apex"])) for r in rows])
    print(f"{len(rows)} clips from {annotations}")
    print("| method | mean abs error (frames) | max | median | clips/s |\n|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for method in METHODS:
            out = Path(tmp) / f"{method}.csv"
            start = time.perf_counter()
            errors = extract(samples, out, Options(method=method, overwrite=True), root=root, workers=workers)
            seconds = time.perf_counter() - start
            if errors:
                print(*errors, sep="\n")
            e = np.array([abs(int(r["apex"]) - truth[r["clip"]]) for r in csv.DictReader(out.open())])
            print(f"| {method} | {e.mean():.2f} | {e.max()} | {np.median(e):.1f} | {len(e) / seconds:.1f} |")
    print(f"| middle frame | {middle.mean():.2f} | {middle.max()} | {np.median(middle):.1f} | - |\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subjects", type=int, default=4)
    parser.add_argument("--clips", type=int, default=10, help="clips per subject")
    parser.add_argument("--jitter", type=float, default=0.12, help="head random-walk step, pixels per frame")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--real", type=Path, help="a canonical CSV of real clips with annotated apexes")
    parser.add_argument("--real-root", type=Path)
    parser.add_argument("--real-classes", default="casme2_5", help="configs/dataset/classes of the real CSV's emotions")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = generate(
            Path(tmp) / "clips",
            num_subjects=args.subjects,
            clips_per_subject=args.clips,
            seed=args.seed,
            jitter=args.jitter,
        )
        spot(root / "annotations.csv", root, args.workers)
    if args.real:
        spot(args.real, args.real_root or args.real.parent, args.workers, args.real_classes)


if __name__ == "__main__":
    main()
