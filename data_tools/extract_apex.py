"""Spot apex frames by optical flow, crop faces and cache motion curves, once per dataset.

    python data_tools/extract_apex.py --annotations IN.csv --root DIR --out OUT.csv
        [--method flow|diff] [--overwrite] [--crop CROP_DIR] [--curves CURVES_DIR] [--plot PLOT_DIR]

Rows without an apex get a spotted one (``--overwrite`` re-spots all); ``apex_source`` says which.
Exit status 1 if any clip failed (each failure is printed with its file and line; the others are
still written).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mer.data.annotations import AnnotationError
from mer.preprocessing.extract_apex import Options, extract
from mer.preprocessing.motion import METHODS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--annotations", type=Path, required=True, help="canonical CSV (apex may be empty)")
    parser.add_argument("--root", type=Path, required=True, help="folder the clip paths are relative to")
    parser.add_argument("--out", type=Path, required=True, help="output CSV")
    parser.add_argument("--method", choices=METHODS, default="flow", help="flow (default) or diff (baseline)")
    parser.add_argument("--overwrite", action="store_true", help="re-spot annotated apexes too")
    parser.add_argument(
        "--face",
        choices=("auto", "detect", "full"),
        default="auto",
        help="where to measure motion: the detected face (auto falls back to the whole frame, "
        "for clips that are already face crops) or the whole frame",
    )
    parser.add_argument("--crop", type=Path, help="write face-cropped clips here (same relative paths)")
    parser.add_argument("--crop-size", type=int, default=224, help="side of the cropped frames in pixels")
    parser.add_argument("--curves", type=Path, help="cache each clip's motion curve here (motion sampling)")
    parser.add_argument("--plot", type=Path, help="save each clip's motion curve and apex as a PNG here")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    args = parser.parse_args(argv)
    options = Options(
        root=args.root,
        method=args.method,
        overwrite=args.overwrite,
        face=args.face,
        crop_dir=args.crop,
        crop_size=args.crop_size,
        curves_dir=args.curves,
        plot_dir=args.plot,
    )
    try:
        errors = extract(args.annotations, args.out, options, workers=args.workers)
    except AnnotationError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for error in errors:
        print(f"skipped: {error}", file=sys.stderr)
    if errors:
        print(f"{len(errors)} clip(s) failed; the others are in {args.out}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
