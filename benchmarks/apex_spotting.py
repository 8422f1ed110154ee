"""Apex spotting accuracy and speed: landmark regions, whole-face flow and frame differencing,
on clips with a known apex.

    python benchmarks/apex_spotting.py                          # synthetic clips with head jitter
    python benchmarks/apex_spotting.py --real ../shared/data/casme2_dev/annotations.csv \\
        --real-root ../shared/data/casme2_dev/Cropped           # real clips with an annotated apex
    python benchmarks/apex_spotting.py --subjects 0 --real-faces ../shared/data/casme2_dev/annotations.csv \\
        --real-root ../shared/data/casme2_dev/Cropped --face-sides 79 128 200   # real faces, known apex

Prints, for each method, the mean, maximum and median absolute apex error in frames, how much
worse than the middle of onset..offset its worst clip is, and clips per second; then the middle
frame's own error. Every clip of the CSV counts (its emotions are all classes here). Landmarks are
cached under ``$MER_CACHE/clips`` as training caches them.

``--real-faces``: clips with a known apex on real skin. Each takes one real onset frame of the CSV
(one clip a subject, in turn), rescaled so the face's landmarks span ``--face-sides`` pixels, and
moves its mouth corners up and out (odd clips: its brows up) by a smooth warp of 1.5% of the face's
side at the apex, with the synthetic generator's intensity profile and key frames, the head walking
``--jitter`` pixels a frame, and 2 grey levels of sensor noise.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

import numpy as np

from mer.compose import compose_config, load_samples
from mer.data.annotations import Sample
from mer.data.faces import locate_face
from mer.data.frames import open_frames, write_video
from mer.datasets.synthetic import generate, intensity_profile
from mer.preprocessing.extract_apex import SPOT_METHODS, Options, extract


def annotated_clips(annotations: Path, root: Path) -> tuple[list[Sample], Path]:
    """Every clip of a canonical CSV (each of its emotions a class), and the landmark cache."""
    rows = list(csv.DictReader(annotations.open()))
    emotions = ",".join(sorted({r["emotion"] for r in rows}))
    cfg = compose_config(
        [
            "dataset=csv",
            f"dataset.classes.names=[{emotions}]",
            "dataset.classes.map={}",
            f"dataset.root={root}",
            f"dataset.annotations={annotations}",
        ]
    )
    return load_samples(cfg, clips="present"), Path(cfg.trainer.clip_cache_dir).expanduser()


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


def _bump(shape: tuple[int, int], centre: np.ndarray, vector: tuple[float, float], sigma: float) -> np.ndarray:
    """``H x W x 2``: a displacement of ``vector`` pixels at ``centre`` fading as a Gaussian of ``sigma``."""
    y, x = np.mgrid[: shape[0], : shape[1]].astype(np.float32)
    weight = np.exp(-((x - centre[0]) ** 2 + (y - centre[1]) ** 2) / (2 * sigma**2))
    return weight[..., None] * np.asarray(vector, dtype=np.float32)


def real_face_clips(
    annotations: Path, root: Path, out: Path, *, clips: int, face_sides: list[int], jitter: float, seed: int
) -> Path:
    """Write the ``--real-faces`` clips (see the module's docstring) and their ``annotations.csv``
    under ``out``; return that CSV."""
    import cv2

    rng = np.random.default_rng(seed)
    rows = list(csv.DictReader(annotations.open()))
    firsts = list({r["subject"]: r for r in reversed(rows)}.values())  # each subject's first clip
    lines = ["subject,clip,onset,apex,offset,emotion,au,fps"]
    for k in range(clips):
        row = firsts[k % len(firsts)]
        frame = open_frames(root / row["clip"]).read([int(row["onset"])])[0]
        landmarks = locate_face([frame])
        for side in face_sides:
            scale = side / float(np.ptp(landmarks[:, 0]))
            base = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            pad_y, pad_x = -base.shape[0] % 32, -base.shape[1] % 32  # decord misreads some other widths
            base = cv2.copyMakeBorder(base, 0, pad_y, 0, pad_x, cv2.BORDER_REFLECT)
            points = landmarks * scale
            amount, sigma = 0.015 * side, 0.08 * side
            if k % 2:
                parts = [(points[19], (0.0, -amount)), (points[24], (0.0, -amount))]  # brows up
            else:
                parts = [(points[48], (-0.5 * amount, -amount)), (points[54], (0.5 * amount, -amount))]
            field = sum(_bump(base.shape[:2], c, v, sigma) for c, v in parts)
            length = int(rng.integers(60, 101))
            onset = int(rng.integers(5, 21))
            offset = min(onset + int(rng.integers(30, 51)), length - 3)
            apex = onset + int(round(rng.uniform(0.3, 0.6) * (offset - onset)))
            profile = intensity_profile(length, onset, apex, offset)
            walk = np.cumsum(rng.normal(0, jitter, (length, 2)), axis=0) + rng.normal(0, 0.1, (length, 2))
            y, x = np.mgrid[: base.shape[0], : base.shape[1]].astype(np.float32)
            frames = []
            for i in range(length):
                map_x = (x - field[..., 0] * profile[i] - walk[i, 0]).astype(np.float32)
                map_y = (y - field[..., 1] * profile[i] - walk[i, 1]).astype(np.float32)
                moved = cv2.remap(base, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
                frames.append(np.clip(moved + rng.normal(0, 2.0, moved.shape), 0, 255).astype(np.uint8))
            clip = f"clips/{side}/{k:02d}.mp4"
            write_video(out / clip, np.stack(frames), 100)
            emotion = "surprise" if k % 2 else "happiness"
            lines.append(f"face{side},{clip},{onset},{apex},{offset},{emotion},,100")
    (out / "annotations.csv").write_text("\n".join(lines) + "\n")
    return out / "annotations.csv"


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
    parser.add_argument("--real-faces", type=Path, help="a canonical CSV whose onset frames the real-face clips use")
    parser.add_argument("--face-sides", type=int, nargs="+", default=[79, 128, 200])
    args = parser.parse_args()
    for size in args.frame_sizes if args.subjects else []:
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
    if args.real_faces:
        with tempfile.TemporaryDirectory() as tmp:
            root = args.real_root or args.real_faces.parent
            sheet = real_face_clips(
                args.real_faces,
                root,
                Path(tmp),
                clips=args.clips,
                face_sides=args.face_sides,
                jitter=args.jitter,
                seed=args.seed,
            )
            print(f"{args.clips} real faces x {args.face_sides} px, head jitter {args.jitter} px a frame")
            spot(sheet, Path(tmp), args.workers, args.methods)


if __name__ == "__main__":
    main()
