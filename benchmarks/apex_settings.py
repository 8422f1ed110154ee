"""The apex spotter's settings chosen by nested subject-independent validation on real clips, and
the error to expect from that choice on subjects not seen.

    python benchmarks/apex_settings.py ../shared/data/casme2_dev/annotations.csv \\
        --root ../shared/data/casme2_dev/Cropped [--widths 128 160 192 224 256] [--sds 0.2 0.25 0.3]

Each clip's regional displacements from its onset are measured once per face-crop side (the face
stage's landmarks, cached under ``$MER_CACHE/clips``; the crop never larger than the face), and
their apex curves with the fractions fixed before any measurement (smoothing a twentieth, reach a
quarter, excursion share a quarter). The settings are the crop side and the prior's sd; the
prior's mean is fitted (:meth:`mer.preprocessing.regions.ApexPrior.fit`). Nested: each subject in
turn is held out, the prior is fitted and the setting chosen on the other subjects
(:func:`mer.evaluation.nested.nested_errors`), and the held-out subject is scored with it. Prints
each setting's in-sample error, the nested estimate beside the middle of onset..offset, and the
setting all subjects choose (the default). ``--grid`` adds the curve's own fractions to the search
(36 settings a side), to show what a larger search costs on subjects not seen.
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np
from apex_spotting import annotated_clips  # this folder is on the path when run as a script
from tqdm import tqdm

from mer.data.annotations import Sample
from mer.data.frames import open_frames
from mer.evaluation.nested import nested_errors
from mer.preprocessing.extract_apex import Options, face_crop, region_displacement
from mer.preprocessing.motion import to_grey
from mer.preprocessing.regions import REGIONS, ApexPrior, apex_index, expression_curve, region_curves

#: smoothing, reach and excursion share of the apex curve: the defaults first
FRACTIONS = [(1 / 20, 1 / 4, 1 / 4)]
GRID = list(itertools.product((1 / 40, 1 / 20, 1 / 10), (1 / 4, 1 / 3), (1 / 8, 1 / 4, 1 / 2)))


def displacement(job: tuple[Sample, int, Path]) -> np.ndarray:
    """``N x R x 2``: the clip's expression regions' displacement from its onset frame, measured as
    ``data_tools/extract_apex.py`` measures it at crop side ``width``."""
    sample, width, cache = job
    cv2.setNumThreads(1)
    track = face_crop(sample, Options(face="crop", work_width=width, face_cache=cache))
    grey = to_grey(track.apply(open_frames(sample.path).read(list(range(sample.onset, sample.offset + 1)))), None)
    return region_displacement(grey, track)[0][:, : len(REGIONS)]


def settings_table(
    samples: list[Sample], curves: dict[tuple, list[np.ndarray]], sds: list[float], train: np.ndarray
) -> tuple[list[tuple], np.ndarray]:
    """Every setting (curve key + prior sd) and its ``settings x clips`` abs apex errors, the prior's
    mean fitted on the clips ``train``."""
    fitted = [s for s, t in zip(samples, train, strict=True) if t]
    keys, rows = [], []
    for key, sd in itertools.product(curves, sds):
        prior = ApexPrior.fit([s.onset for s in fitted], [s.apex for s in fitted], [s.offset for s in fitted], sd=sd)
        keys.append((*key, sd))
        rows.append([abs(s.onset + apex_index(c, prior) - s.apex) for s, c in zip(samples, curves[key], strict=True)])
    return keys, np.array(rows, dtype=float)


def describe(key: tuple) -> str:
    width, smoothing, reach, share, sd = key
    return f"{width} px, smoothing 1/{1 / smoothing:.0f}, reach 1/{1 / reach:.0f}, share {share:g}, sd {sd:g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("annotations", type=Path, help="canonical CSV of clips with an annotated apex")
    parser.add_argument("--root", type=Path, help="the clips' folder (default: the CSV's)")
    parser.add_argument("--widths", type=int, nargs="+", default=[128, 160, 192, 224, 256])
    parser.add_argument("--sds", type=float, nargs="+", default=[0.2, 0.25, 0.3])
    parser.add_argument("--grid", action="store_true", help="search the curve's fractions too")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    samples, cache = annotated_clips(args.annotations, args.root or args.annotations.parent)
    subjects = np.array([s.subject for s in samples])
    middle = np.array([abs((s.onset + s.offset) // 2 - s.apex) for s in samples], dtype=float)
    print(f"{len(samples)} clips of {len(set(subjects))} subjects; middle of onset..offset {middle.mean():.2f}")
    curves = {}
    for width in args.widths:
        with ProcessPoolExecutor(args.workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            jobs = [(s, width, cache) for s in samples]
            moved = list(tqdm(pool.map(displacement, jobs), total=len(jobs), desc=f"{width} px", unit="clip"))
        for fractions in GRID if args.grid else FRACTIONS:
            smoothing, reach, share = fractions
            curves[(width, *fractions)] = [
                expression_curve(region_curves(d, REGIONS, smoothing=smoothing, reach=reach, share=share))
                for d in moved
            ]
    everyone = np.ones(len(samples), dtype=bool)
    keys, table = settings_table(samples, curves, args.sds, everyone)
    print("| setting | in-sample mean abs error | worst clip minus middle |")
    print("|---|---|---|")
    for key, row in zip(keys, table, strict=True):
        print(f"| {describe(key)} | {row.mean():.2f} | {(row - middle).max():.0f} |")
    nested, chosen = nested_errors(lambda train: settings_table(samples, curves, args.sds, train)[1], subjects)
    best = int(table.mean(axis=1).argmin())
    print(
        f"\nnested estimate: {nested.mean():.2f} frames ({nested.mean() / middle.mean():.3f} of the middle's "
        f"{middle.mean():.2f}), median {np.median(nested):.0f}, max {nested.max():.0f}, "
        f"worst clip minus its middle {(nested - middle).max():.0f}"
    )
    print(f"best in-sample (optimistic): {describe(keys[best])}: {table[best].mean():.2f}")
    picks = sorted({describe(keys[c]) for c in chosen.values()})
    print(f"chosen by the {len(chosen)} outer folds: {'; '.join(picks)}")
    prior = ApexPrior.fit([s.onset for s in samples], [s.apex for s in samples], [s.offset for s in samples])
    print(f"the default (chosen on all subjects): {describe(keys[best])}, prior mean {prior.mean:.2f}")


if __name__ == "__main__":
    main()
