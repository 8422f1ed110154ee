"""How the apex curve's settings and the face crop's size move the apex error on real clips, and
what choosing the settings leave-one-subject-out gives (the error to expect on subjects not seen).

    python benchmarks/apex_settings.py ../shared/data/casme2_dev/annotations.csv \\
        --root ../shared/data/casme2_dev/Cropped [--widths 128 192 224 256 288] [--workers 2]

For each crop width, each clip's regional displacements from its onset are measured once (the face
stage's landmarks, cached under ``$MER_CACHE/clips``; the crop never larger than the face), then
every setting of the grid is scored: smoothing, excursion reach, prior sd and the excursion's share
of a region's apex curve (:func:`mer.preprocessing.regions.region_curves`), and the excursion alone
(the previous curve). Prints, per width: the default's mean abs error and its worst clip minus that
clip's midpoint error, the excursion alone, the grid's range and mean, and the mean error when each
subject is scored with the setting that is best on the other subjects.
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
from scipy.ndimage import gaussian_filter1d
from tqdm import tqdm

from mer.data.annotations import Sample
from mer.data.frames import open_frames
from mer.preprocessing.extract_apex import Options, face_crop, region_displacement
from mer.preprocessing.motion import to_grey
from mer.preprocessing.regions import REGIONS, apex_index, excursion, expression_curve, region_curves

GRID = list(itertools.product((1 / 40, 1 / 20, 1 / 10), (1 / 4, 1 / 3), (0.25, 0.3), (1 / 8, 1 / 4, 1 / 2)))


def displacement(job: tuple[Sample, int, Path]) -> np.ndarray:
    """``N x R x 2``: the clip's expression regions' displacement from its onset frame, measured as
    ``data_tools/extract_apex.py`` measures it at crop side ``width``."""
    sample, width, cache = job
    cv2.setNumThreads(1)
    track = face_crop(sample, Options(face="crop", work_width=width, face_cache=cache))
    grey = to_grey(track.apply(open_frames(sample.path).read(list(range(sample.onset, sample.offset + 1)))), None)
    return region_displacement(grey, track)[0][:, : len(REGIONS)]


def excursion_alone(d: np.ndarray) -> np.ndarray:
    """The previous apex curve: the regions' summed excursion (smoothing a twentieth, reach a quarter)."""
    n = len(d)
    return excursion(gaussian_filter1d(d, max(1.0, n / 20), axis=0, mode="nearest"), max(1, round(n / 4))).sum(1)


def apex_under(d: np.ndarray, setting: tuple) -> int:
    """The apex of ``setting``'s curve: smoothing, reach, prior sd, excursion share."""
    smoothing, reach, sd, share = setting
    return apex_index(expression_curve(region_curves(d, REGIONS, smoothing=smoothing, reach=reach, share=share)), sd=sd)


def errors(samples: list[Sample], peaks: list[int]) -> np.ndarray:
    """Each clip's abs apex error."""
    return np.array([abs(s.onset + p - s.apex) for s, p in zip(samples, peaks, strict=True)])


def chosen_on_other_subjects(samples: list[Sample], table: np.ndarray) -> np.ndarray:
    """Each clip's error under the setting (row of ``table``, settings x clips) best on the other subjects."""
    subjects = np.array([s.subject for s in samples])
    out = np.zeros(len(samples))
    for subject in np.unique(subjects):
        held = subjects == subject
        out[held] = table[int(table[:, ~held].mean(axis=1).argmin()), held]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("annotations", type=Path, help="canonical CSV of clips with an annotated apex")
    parser.add_argument("--root", type=Path, help="the clips' folder (default: the CSV's)")
    parser.add_argument("--widths", type=int, nargs="+", default=[128, 224])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    samples, cache = annotated_clips(args.annotations, args.root or args.annotations.parent)
    middle = np.array([abs((s.onset + s.offset) // 2 - s.apex) for s in samples])
    print(f"{len(samples)} clips of {len({s.subject for s in samples})} subjects; middle frame {middle.mean():.2f}")
    print("| width | default | worst minus midpoint | excursion alone | grid min-max (mean) | chosen on others |")
    print("|---|---|---|---|---|---|")
    for width in args.widths:
        with ProcessPoolExecutor(args.workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            jobs = [(s, width, cache) for s in samples]
            moved = list(tqdm(pool.map(displacement, jobs), total=len(jobs), desc=f"{width} px", unit="clip"))
        default = errors(samples, [apex_index(expression_curve(region_curves(d, REGIONS))) for d in moved])
        alone = errors(samples, [apex_index(excursion_alone(d)) for d in moved])
        table = np.stack([errors(samples, [apex_under(d, g) for d in moved]) for g in GRID])
        means = table.mean(axis=1)
        print(
            f"| {width} | {default.mean():.2f} | {(default - middle).max()} | {alone.mean():.2f} "
            f"| {means.min():.2f}-{means.max():.2f} ({means.mean():.2f}) "
            f"| {chosen_on_other_subjects(samples, table).mean():.2f} |"
        )


if __name__ == "__main__":
    main()
