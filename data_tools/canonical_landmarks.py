"""The mean position of each of the 68 face landmarks in a dataset's frames, as fractions of the
frame: the landmark positions of models that read pre-made face crops without landmarks of their
own (FaceTopoNet on the MEGC composite's 28 x 28 flow images, cropped like CASME II's release).

    python data_tools/canonical_landmarks.py --out mer/models/canonical_landmarks.csv \\
        dataset=casme2 dataset.root=../shared/data/casme2_dev/Cropped \\
        dataset.annotations=../shared/data/annotations/CASME2-coding-20140508.xlsx

Landmarks are located on each sample's onset frames by the face stage (cached like training's);
the CSV holds ``x,y`` per landmark in dlib's order and, as a comment, the samples and the spread.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from mer.atomic import write_text_atomic
from mer.compose import compose_config, load_samples
from mer.data.faces import face_track


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="Hydra overrides: dataset=... and its keys")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_intermixed_args(argv)
    cfg = compose_config(args.overrides)
    samples = load_samples(cfg)
    cache = Path(cfg.trainer.clip_cache_dir).expanduser()
    points = []
    for s in tqdm(samples, desc="landmarks", unit="clip"):
        track = face_track(s.path, s.onset, mode="crop", size=224, cache_dir=cache)
        height, width = track.frame_size
        points.append(track.landmarks / np.array([width, height]))
    points = np.stack(points)
    mean, spread = points.mean(axis=0), points.std(axis=0).mean()
    lines = [
        f"# mean of {len(points)} samples of dataset={cfg.dataset.name}; mean std {spread:.4f} of the frame",
        "x,y",
    ]
    lines += [f"{x:.4f},{y:.4f}" for x, y in mean]
    write_text_atomic(args.out, "\n".join(lines) + "\n")
    print(f"{len(points)} samples -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
