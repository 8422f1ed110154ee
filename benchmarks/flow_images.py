"""mer's onset-apex flow images against the MEGC 2019 composite's published ones, on the same clips.

    python benchmarks/flow_images.py --frames ../shared/data/casme2_dev/Cropped \
        --sheet ../shared/data/annotations/CASME2-coding-20140508.xlsx \
        --composite ../shared/data/megc2019_composite --out /tmp/flow_sets

For every CASME II clip that is both under ``--frames`` and in the composite, computes the flow image
with mer's recipe (:func:`mer.data.flow.flow_image`, what ``dataset.kind=flow`` computes), with the
field's plain recipe written out here independently (onset and apex resized to 128 x 128, TV-L1,
strain, each float channel resized to 28 x 28, then min-max scaled) and with mer's earlier recipe
(min-max at the work size, rounded to bytes, then resized), and prints each channel's mean Pearson
correlation with the published image. With ``--out`` it also writes the four sets (``mer``,
``plain``, ``earlier``, ``published``) in the composite's layout, so STSTNet can be trained on each
with the same command: ``python -m mer.train dataset=megc2019_flow model=ststnet dataset.root=OUT/<set>``.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from mer.data.flow import flow_image as mer_flow_image
from mer.data.flow import grey_frames, optical_flow, optical_strain
from mer.data.frames import open_frames
from mer.datasets.casme2 import load_casme2

CLASSES = ["negative", "positive", "surprise"]
MEGC3 = {"disgust": "negative", "repression": "negative", "happiness": "positive", "others": None}


def earlier_flow_image(onset: np.ndarray, apex: np.ndarray) -> np.ndarray:
    """mer's flow image before the fix: 128 px wide (aspect kept), bytes per channel, then resized."""
    h, w = onset.shape[:2]
    grey = grey_frames(np.stack([onset, apex]), (round(h * 128 / w), 128))
    flow = optical_flow(grey[0], grey[1], "tvl1")
    channels = []
    for c in (flow[..., 0], flow[..., 1], optical_strain(flow)):
        low, high = float(c.min()), float(c.max())
        channels.append(np.round((c - low) / (high - low if high > low else 1) * 255).astype(np.uint8))
    return cv2.resize(np.stack(channels, axis=2), (28, 28), interpolation=cv2.INTER_AREA)


def plain_flow_image(onset: np.ndarray, apex: np.ndarray) -> np.ndarray:
    """The field's plain recipe, written out independently of mer: onset and apex resized to 128 x 128,
    TV-L1, strain, each float channel resized to 28 x 28 and only then min-max scaled to bytes."""
    grey = [cv2.resize(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), (128, 128)) for f in (onset, apex)]
    flow = cv2.optflow.DualTVL1OpticalFlow_create().calc(grey[0], grey[1], None)
    u_y, u_x = np.gradient(flow[..., 0])
    v_y, v_x = np.gradient(flow[..., 1])
    strain = np.sqrt(u_x**2 + v_y**2 + 0.5 * (u_y + v_x) ** 2)
    channels = []
    for c in (flow[..., 0], flow[..., 1], strain):
        small = cv2.resize(c.astype(np.float32), (28, 28))
        channels.append(np.round((small - small.min()) / (small.max() - small.min()) * 255).astype(np.uint8))
    return np.stack(channels, axis=2)


def published(composite: Path) -> dict[tuple[str, str], tuple[np.ndarray, int]]:
    """``(subject, filename) -> (image, label)`` of the composite's CASME II part, channels u, v, strain."""
    out = {}
    with (composite / "samples.csv").open() as handle:
        for row in csv.DictReader(handle):
            if row["dataset"] == "casme2":
                path = composite / "flow28" / f"{row['sub']}_{row['filename_o']} .png"
                image = np.ascontiguousarray(cv2.imread(str(path))[..., ::-1])  # RGB: u, v, strain
                out[row["sub"], row["filename_o"]] = image, int(row["label"])
    return out


def correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-channel Pearson correlation of two ``H x W x 3`` images."""
    return np.array([np.corrcoef(a[..., c].ravel(), b[..., c].ravel())[0, 1] for c in range(3)])


def write_set(root: Path, rows: list[tuple[str, str, int, np.ndarray]]) -> None:
    (root / "flow28").mkdir(parents=True, exist_ok=True)
    with (root / "samples.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["dataset", "sub", "filename_o", "label"])
        for subject, name, label, image in rows:
            writer.writerow(["casme2", subject, name, label])
            cv2.imwrite(str(root / "flow28" / f"{subject}_{name} .png"), image[..., ::-1])  # RGB in the file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=Path, required=True)
    parser.add_argument("--sheet", type=Path, required=True)
    parser.add_argument("--composite", type=Path, required=True)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    reference = published(args.composite)
    samples = load_casme2(
        root=args.frames, annotations=args.sheet, classes=CLASSES, class_map=MEGC3, leave_out=["fear", "sadness"]
    )
    sets: dict[str, list] = {"mer": [], "plain": [], "earlier": [], "published": []}
    scores: dict[str, list] = {"mer": [], "plain": [], "earlier": []}
    for s in tqdm(samples, desc="flow images", unit="clip"):
        key = (s.subject, Path(s.clip).name)
        if key not in reference or s.apex is None:
            continue
        image, label = reference[key]
        if label != s.label:
            raise ValueError(f"{s.clip}: the composite labels it {CLASSES[label]}, the sheet {CLASSES[s.label]}")
        onset, apex = open_frames(s.path).read([s.onset, s.apex])
        ours = {
            "mer": mer_flow_image(onset, apex),
            "plain": plain_flow_image(onset, apex),
            "earlier": earlier_flow_image(onset, apex),
        }
        for name, mine in ours.items():
            scores[name].append(correlation(mine, image))
            sets[name].append((*key, label, mine))
        sets["published"].append((*key, label, image))
    print(f"{len(sets['published'])} clips in both (of {len(samples)} under {args.frames})")
    print("recipe   | corr. with the published image: horizontal | vertical | strain")
    for name, values in scores.items():
        mean = np.mean(values, axis=0)
        print(f"{name:8s} | {mean[0]:.3f} | {mean[1]:.3f} | {mean[2]:.3f}")
    if args.out:
        for name, rows in sets.items():
            write_set(args.out / name, rows)
        print(f"sets written under {args.out}: {', '.join(sets)}")


if __name__ == "__main__":
    main()
