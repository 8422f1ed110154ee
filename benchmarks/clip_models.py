"""Throughput of the clip models' inputs and the wall time of a whole clip-model LOSO, on real clips.

    python benchmarks/clip_models.py --root ../shared/data/casme2_dev/Cropped \
        --sheet ../shared/data/annotations/CASME2-coding-20140508.xlsx [--loso r3d transformer]

Prints, on this machine (one core, ``cv2.setNumThreads(1)``): flow clips per second for each flow
algorithm (8 key frames, 28 x 28, from the frames as read), and face alignment per clip (landmarks
on the onset frames, then one warp of 9 frames). With ``--loso MODEL...`` it then runs
``python -m mer.train dataset=casme2 dataset/classes=megc3 model=MODEL`` on the clips with a fresh
cache (flow computed inside the timing) and prints each run's wall time, UF1 and UAR.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2

from mer.data.faces import face_track
from mer.data.flow import FLOW_ALGORITHMS, flow_clip
from mer.data.frames import open_frames
from mer.data.sampling import sample_frames
from mer.datasets.casme2 import load_casme2

CLASSES = ["negative", "positive", "surprise"]
MEGC3 = {"disgust": "negative", "repression": "negative", "happiness": "positive", "others": None}


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def input_throughput(samples, count: int) -> None:
    clips = []
    for s in samples[:count]:
        numbers = sample_frames("uniform", onset=s.onset, apex=s.apex, offset=s.offset, num_frames=8, clip=str(s.path))
        clips.append(open_frames(s.path).read([s.onset, *numbers]))
    for algorithm in FLOW_ALGORITHMS:
        started = time.perf_counter()
        for frames in clips:
            flow_clip(frames, size=(28, 28), algorithm=algorithm)
        print(f"flow clips, {algorithm:9s}: {len(clips) / (time.perf_counter() - started):6.2f} clips/s")
    with tempfile.TemporaryDirectory() as cache:
        started = time.perf_counter()
        for s, frames in zip(samples[:count], clips, strict=True):
            face_track(s.path, s.onset, mode="align", size=224, cache_dir=cache).apply(frames)
        per_clip = (time.perf_counter() - started) / len(clips) * 1000
        print(f"face alignment (locate + warp 9 frames): {per_clip:.0f} ms/clip")


def loso(model: str, root: Path, sheet: Path) -> None:
    with tempfile.TemporaryDirectory() as work:
        env = {**os.environ, "MER_CACHE": str(Path(work) / "cache")}
        run_dir = Path(work) / "run"
        command = [
            sys.executable,
            "-m",
            "mer.train",
            "dataset=casme2",
            "dataset/classes=megc3",
            f"model={model}",
            f"dataset.root={root}",
            f"dataset.annotations={sheet}",
            "trainer.progress=false",
            f"hydra.run.dir={run_dir}",
        ]
        started = time.perf_counter()
        subprocess.run(command, check=True, env=env, capture_output=True)
        seconds = time.perf_counter() - started
        results = json.loads((run_dir / "results.json").read_text())
        print(
            f"LOSO {model}: {seconds / 60:.1f} min for {results['num_folds']} folds, {results['num_samples']} clips "
            f"(flow included), UF1 {results['uf1']:.3f}, UAR {results['uar']:.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--sheet", type=Path, required=True)
    parser.add_argument("--clips", type=int, default=10, help="clips for the throughput figures")
    parser.add_argument("--loso", nargs="*", default=[], help="models whose whole LOSO to time")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    print(f"machine: {cpu_name()}, {os.cpu_count()} cores")
    samples = load_casme2(
        root=args.root, annotations=args.sheet, classes=CLASSES, class_map=MEGC3, leave_out=["fear", "sadness"]
    )
    input_throughput(samples, args.clips)
    for model in args.loso:
        loso(model, args.root, args.sheet)


if __name__ == "__main__":
    main()
