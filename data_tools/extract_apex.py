"""Spot apex frames by optical flow in the face's landmark regions, crop faces and cache motion
curves, once per dataset.

    python data_tools/extract_apex.py --out OUT.csv [--method regions|flow|diff] [--overwrite]
        [--face auto|crop|full] [--crop CROP_DIR] [--crop-size N] [--curves CURVES_DIR]
        [--plot PLOT_DIR] [--workers N] dataset=NAME dataset.root=DIR [KEY=VALUE ...]

The trailing ``KEY=VALUE`` arguments are Hydra overrides of ``configs/``, exactly as for
``python -m mer.train``: ``dataset=smic dataset.root=/data/SMIC/HS``, ``dataset=casme2
dataset.root=... dataset.annotations=CASME2-coding.xlsx``, ``dataset/classes=...``.
``--annotations IN.csv [--root DIR]`` is short for ``dataset=csv dataset.annotations=IN.csv
dataset.root=DIR`` (DIR defaults to the CSV's folder).

OUT.csv is a canonical CSV (``subject,clip,onset,apex,offset,emotion,au[,fps],apex_source``) with
``clip`` relative to ``dataset.root``; train on it with ``dataset=csv dataset.root=<the same root>
dataset.annotations=OUT.csv`` (plus the ``dataset/classes`` the release uses). Samples without an
apex get a spotted one (``--overwrite`` re-spots all); ``apex_source`` says which. Rows need no
class: an empty or unknown emotion (unlabelled footage) is written as given (training refuses it).

Motion is measured inside the face: a square crop around its 68 landmarks, located once per clip
on the onset frames (``--face crop``; ``full``: the whole frame; ``auto``, the default: the crop
where a face is found, the whole frame otherwise, each such clip named in a warning). Landmarks
are cached under ``trainer.clip_cache_dir`` (as training caches them; override it like any other
key). ``--crop`` writes every clip through the face stage's ``align`` transform (eyes and nose at
canonical positions, ``--crop-size`` square, default ``dataset.face.size``), same relative paths
and frame numbers; a clip without a face is then an error.

Exit status 1 if any clip failed (each failure is printed with its sheet and line and the clip's
path; the others are still written), 2 if the dataset itself could not be read.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from hydra.errors import HydraException
from omegaconf.errors import OmegaConfBaseException

from mer.compose import compose_config, load_samples
from mer.config_check import ConfigError
from mer.data.annotations import AnnotationError
from mer.preprocessing.extract_apex import FACE_MODES, SPOT_METHODS, Options, extract

_PLAIN = re.compile(r"[\w/.~+:@-]*")


def override_value(value: object) -> str:
    """``value`` as a Hydra override value: quoted unless it is a plain path."""
    text = str(value)
    if _PLAIN.fullmatch(text):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def overrides(args: argparse.Namespace) -> list[str]:
    """The Hydra overrides: the ``--annotations/--root`` shorthand first, then the trailing ones."""
    shorthand = []
    if args.annotations is not None or args.root is not None:
        shorthand.append("dataset=csv")
        if args.annotations is not None:
            shorthand.append(f"dataset.annotations={override_value(args.annotations)}")
        root = args.root if args.root is not None else args.annotations.parent
        shorthand.append(f"dataset.root={override_value(root)}")
    return shorthand + list(args.overrides)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="Hydra overrides: dataset=... and its keys")
    parser.add_argument("--out", type=Path, required=True, help="output CSV (canonical, read back with dataset=csv)")
    parser.add_argument("--annotations", type=Path, help="shorthand: dataset=csv dataset.annotations=THIS")
    parser.add_argument("--root", type=Path, help="shorthand: dataset.root=THIS (with --annotations: its folder)")
    parser.add_argument(
        "--method",
        choices=SPOT_METHODS,
        default="regions",
        help="regions (default: the landmark regions' motion, whole-face flow where no face is found), "
        "flow (whole face) or diff (baseline)",
    )
    parser.add_argument("--overwrite", action="store_true", help="re-spot annotated apexes too")
    parser.add_argument(
        "--face",
        choices=(*FACE_MODES, "detect"),
        default="auto",
        help="where to measure motion: the landmark face crop (crop; detect is its old name), the whole "
        "frame (full), or the crop where a face is found and the whole frame otherwise (auto)",
    )
    parser.add_argument("--crop", type=Path, help="write face-aligned clips here (same relative paths)")
    parser.add_argument("--crop-size", type=int, help="side of the aligned frames (default: dataset.face.size)")
    parser.add_argument("--curves", type=Path, help="cache each clip's motion curve here (motion sampling)")
    parser.add_argument("--plot", type=Path, help="save each clip's motion curve and apex as a PNG here")
    parser.add_argument(
        "--work-width",
        type=int,
        default=Options.work_width,
        help="side of the face crop motion is measured on, at most the face's own; without a face, the "
        "whole frame's width (default: %(default)s)",
    )
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    args = parser.parse_intermixed_args(argv)
    bad = [o for o in args.overrides if "=" not in o and not o.startswith("~")]
    if bad:
        parser.error(f"not a KEY=VALUE override: {' '.join(bad)}")
    try:
        cfg = compose_config(overrides(args))
        face = cfg.dataset.get("face") or {}
        options = Options(
            method=args.method,
            overwrite=args.overwrite,
            face=args.face,
            crop_dir=args.crop,
            crop_size=args.crop_size or int(face.get("size", 224)),
            curves_dir=args.curves,
            plot_dir=args.plot,
            work_width=args.work_width,
            face_cache=Path(cfg.trainer.clip_cache_dir).expanduser(),
        )
        samples = load_samples(cfg, labelled=False, clips="present")  # spotting needs no class
        root = cfg.dataset.get("root")
    except (AnnotationError, ConfigError, HydraException, OmegaConfBaseException) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    errors = extract(samples, args.out, options, root=root, workers=args.workers)
    for error in errors:
        print(f"skipped: {error}", file=sys.stderr)
    if errors:
        print(f"{len(errors)} of {len(samples)} clip(s) failed; the others are in {args.out}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
