"""Apex spotting, face cropping and motion curves over an annotation file, one clip per job.

Reads a canonical CSV (apex may be empty), writes the same rows with the apex filled in and an
``apex_source`` column (``annotated`` or ``spotted``). A clip that fails is reported by its line
and left out; the others are still written. See ``data_tools/extract_apex.py`` for the CLI.
"""

from __future__ import annotations

import csv
import io
import multiprocessing
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from mer.atomic import write_text_atomic
from mer.data.annotations import AnnotationError, open_checked, parse_key_frames, read_rows
from mer.data.curves import curve_path, save_curve
from mer.data.frames import FolderFrames, FrameReadError, FrameSource, write_video
from mer.preprocessing.face import Box, NoFaceError, crop_and_resize, detect_face
from mer.preprocessing.motion import clip_motion, spot_apex, to_grey

CHUNK = 64  # frames decoded at a time, so a 500 fps clip never sits in memory whole


@dataclass(frozen=True)
class Options:
    """What to do with each clip (see the CLI's help)."""

    root: Path
    method: str = "flow"
    overwrite: bool = False
    face: str = "auto"
    crop_dir: Path | None = None
    crop_size: int = 224
    curves_dir: Path | None = None
    plot_dir: Path | None = None
    work_width: int = 128


def _chunks(numbers: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(numbers), CHUNK):
        yield numbers[start : start + CHUNK]


def _face_box(source: FrameSource, numbers: Sequence[int], face: str) -> Box | None:
    """The face box from the clip's first, middle and last frames; ``None`` means the whole frame."""
    if face == "full":
        return None
    probe = source.read([numbers[0], numbers[len(numbers) // 2], numbers[-1]])
    try:
        return detect_face(probe)
    except NoFaceError:
        if face == "detect":
            raise
        return None


def _write_cropped(source: FrameSource, box: Box, clip: str, options: Options, fps: float) -> None:
    """The whole clip cropped to ``box`` and resized: frame numbers and file names unchanged."""
    from PIL import Image

    numbers = list(range(source.first, source.last + 1))
    target = options.crop_dir / clip
    if isinstance(source, FolderFrames):
        target.mkdir(parents=True, exist_ok=True)
        for chunk in _chunks([n for n in numbers if n in source.files]):
            for n, frame in zip(chunk, crop_and_resize(source.read(chunk), box, options.crop_size), strict=True):
                Image.fromarray(frame).save(target / source.files[n].name)
        return
    frames = np.concatenate([crop_and_resize(source.read(c), box, options.crop_size) for c in _chunks(numbers)])
    write_video(target, frames, int(round(fps)))


def _plot(path: Path, numbers: Sequence[int], curve: np.ndarray, apex: int, annotated: int | None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 2.5))
    ax.plot(numbers, curve, color="k", lw=1)
    ax.axvline(apex, color="tab:red", label=f"spotted apex {apex}")
    if annotated is not None:
        ax.axvline(annotated, color="tab:blue", ls="--", label=f"annotated apex {annotated}")
    ax.set_xlabel("frame")
    ax.set_ylabel("facial motion")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def process_row(row: dict[str, str], where: str, options: Options) -> dict[str, str]:
    """Spot, crop and cache one clip; return its output row.

    Raises:
        AnnotationError, FrameReadError, NoFaceError: with ``where`` (file and line) in the message.
    """
    onset, apex, offset = parse_key_frames(row, where)
    clip = row["clip"].strip()
    try:
        source = open_checked(options.root / clip, onset, offset, where)
        numbers = list(range(onset, offset + 1))
        box = _face_box(source, numbers, "detect" if options.crop_dir else options.face)
        spot = apex is None or options.overwrite
        if spot or options.curves_dir or options.plot_dir:
            frames = [source.read(c) for c in _chunks(numbers)]
            grey = np.concatenate([to_grey(box.crop(f) if box else f, options.work_width) for f in frames])
            curve = clip_motion(grey, options.method)
            spotted = spot_apex(curve, onset)
            if options.curves_dir:
                save_curve(curve_path(options.curves_dir, clip), np.array(numbers), curve)
            if options.plot_dir:
                _plot(options.plot_dir / f"{clip}.png", numbers, curve, spotted, apex)
        if options.crop_dir:
            _write_cropped(source, box, clip, options, float(row.get("fps") or 30))
    except (FrameReadError, NoFaceError) as error:
        raise AnnotationError(f"{where}: {error} ({options.root / clip})") from error
    out = dict(row)
    out["apex"] = str(spotted if spot else apex)
    out["apex_source"] = "spotted" if spot else "annotated"
    return out


def _job(args: tuple[dict[str, str], str, Options]) -> tuple[dict[str, str] | None, str | None]:
    import cv2

    cv2.setNumThreads(1)  # one clip per process: OpenCV's own threads would oversubscribe the cores
    row, where, options = args
    try:
        return process_row(row, where, options), None
    except AnnotationError as error:
        return None, str(error)


def extract(annotations: Path, out: Path, options: Options, *, workers: int | None = None) -> list[str]:
    """Process every row of ``annotations`` into ``out``; return the errors of the rows left out."""
    columns, rows = read_rows(annotations)
    jobs = [(row, f"{annotations}, line {line}", options) for line, row in enumerate(rows, start=2)]
    workers = workers or os.cpu_count() or 1
    if workers == 1:
        results = [_job(j) for j in tqdm(jobs, desc="clips", unit="clip")]
    else:
        # spawn, not fork: a fork after OpenCV's or torch's thread pools have run can deadlock the child
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            results = list(tqdm(pool.map(_job, jobs), total=len(jobs), desc="clips", unit="clip"))
    header = columns + ([] if "apex_source" in columns else ["apex_source"])
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(r for r, _ in results if r is not None)
    write_text_atomic(out, buffer.getvalue())
    return [e for _, e in results if e is not None]
