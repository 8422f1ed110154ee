"""Apex spotting, face cropping and motion curves over a dataset's samples, one clip per job.

The samples come from a ``dataset`` configuration, composed with Hydra as training composes it
(:mod:`mer.compose`; ``load_samples(cfg, labelled=False, clips="present")``): a release as
released (``dataset=casme2``, ``smic``, ...) or a canonical CSV (``dataset=csv``).
:func:`extract` writes them as a canonical CSV
(``subject,clip,onset,apex,offset,emotion,au[,fps],apex_source``) with the apex filled in and
``apex_source`` saying ``annotated`` or ``spotted``, so training reads it back with ``dataset=csv``.
A clip that fails is reported by its sheet and line (:attr:`Sample.source`) and left out; the
others are still written. See ``data_tools/extract_apex.py`` for the CLI.

Faces are located with the face stage's landmarks (:func:`mer.data.faces.face_track`, ``crop``
mode), once per clip on its onset frames; motion is measured on that one face crop, so a moving
box never adds its own jitter to the curve. The default ``regions`` method measures it in the
landmark regions of the expression action units (:mod:`mer.preprocessing.regions`); a clip where
no face is found falls back to the whole-face ``flow`` method (``face=auto``). ``--crop`` writes
each clip through the ``align`` transform from the same landmarks (eyes and nose at canonical
positions, as ``dataset.face.mode=align`` gives training), frame numbers and file names unchanged.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from mer.atomic import write_csv_atomic
from mer.data.annotations import AnnotationError, Sample, canonical_columns, canonical_row, open_checked
from mer.data.curves import curve_path, save_curve
from mer.data.faces import (
    FaceTrack,
    NoFaceError,
    align_frames,
    crop_matrix,
    face_track,
    similarity_to_canonical,
    transform_points,
)
from mer.data.frames import FolderFrames, FrameReadError, FrameSource, write_video
from mer.preprocessing.motion import METHODS, clip_motion, to_grey
from mer.preprocessing.regions import EYES, RegionMeter, apex_index, expression_curve, onset_vectors, region_curves

log = logging.getLogger(__name__)

CHUNK = 64  # frames decoded at a time, so a 500 fps clip never sits in memory whole
FACE_MODES = ("auto", "crop", "full")
SPOT_METHODS = ("regions", *METHODS)  # regions: the landmark regions where a face is found, else flow


@dataclass(frozen=True)
class Options:
    """What to do with each clip (see the CLI's help).

    ``face``: ``crop`` measures motion on the landmark face crop (no face: the clip fails), ``full``
    on the whole frame, ``auto`` on the crop where a face is found and the whole frame otherwise.
    ``face_cache``: where each clip's landmarks are kept (``None``: not kept).
    """

    method: str = "regions"
    overwrite: bool = False
    face: str = "auto"
    crop_dir: Path | None = None
    crop_size: int = 224
    curves_dir: Path | None = None
    plot_dir: Path | None = None
    face_cache: Path | None = None
    work_width: int = 192  # face crop side (at most the face's own; chosen by nested validation, docs/spotting.md)

    def __post_init__(self) -> None:
        face = "crop" if self.face == "detect" else self.face  # "detect": the Haar-era name of crop
        if face not in FACE_MODES:
            raise ValueError(f"face={self.face!r}: use one of {', '.join(FACE_MODES)}")
        object.__setattr__(self, "face", face)


def _chunks(numbers: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(numbers), CHUNK):
        yield numbers[start : start + CHUNK]


def face_crop(sample: Sample, options: Options) -> FaceTrack | None:
    """The clip's landmark face crop (``work_width`` square, or the face's own size where smaller);
    ``None`` means the whole frame."""
    face = "crop" if options.crop_dir else options.face
    if face == "full":
        return None
    try:
        track = face_track(
            sample.path, sample.onset, mode="crop", size=options.work_width, cache_dir=options.face_cache
        )
    except NoFaceError:
        if face == "crop":
            raise
        return None
    return at_most_native(track)


def at_most_native(track: FaceTrack) -> FaceTrack:
    """A ``crop`` track no larger than the face is in the source frames (other modes unchanged).

    Upsampling adds no detail and shrinks the flow's window against the face: 96-pixel synthetic
    clips measured at 224 pixels had a worst apex error of 12 frames, at their own 79 pixels 4.
    """
    if track.mode != "crop":
        return track
    side = int(round(track.size / np.sqrt(abs(np.linalg.det(track.matrix[:, :2])))))
    if side >= track.size:
        return track
    return dataclasses.replace(track, size=side, matrix=crop_matrix(track.landmarks, side))


def _write_aligned(source: FrameSource, track: FaceTrack, sample: Sample, options: Options) -> None:
    """The whole clip through the face's align transform: frame numbers and file names unchanged."""
    from PIL import Image

    size = options.crop_size
    matrix = similarity_to_canonical(track.landmarks, size)
    numbers = list(range(source.first, source.last + 1))
    target = options.crop_dir / sample.clip
    if isinstance(source, FolderFrames):
        target.mkdir(parents=True, exist_ok=True)
        for chunk in _chunks([n for n in numbers if n in source.files]):
            for n, frame in zip(chunk, align_frames(source.read(chunk), matrix, size), strict=True):
                Image.fromarray(frame).save(target / source.files[n].name)
        return
    frames = np.concatenate([align_frames(source.read(c), matrix, size) for c in _chunks(numbers)])
    write_video(target, frames, int(round(sample.fps or 30)))


def region_displacement(grey: np.ndarray, track: FaceTrack) -> tuple[np.ndarray, tuple[str, ...]]:
    """``N x R x 2``: each landmark region's displacement from the clip's first frame, and the
    regions' names (the expression regions, then the eyes); ``grey`` is ``track``'s face crop."""
    meter = RegionMeter(transform_points(track.landmarks, track.matrix), grey.shape[1:])
    return onset_vectors(grey, meter), meter.names


def clip_curves(
    grey: np.ndarray, track: FaceTrack | None, method: str
) -> tuple[np.ndarray, int, dict[str, np.ndarray]]:
    """The clip's motion curve, the index of its apex, and each landmark region's curve (none
    without landmarks: ``regions`` falls back to the whole-face ``flow``)."""
    if method == "regions" and track is not None:
        curves = region_curves(*region_displacement(grey, track))
        curve = expression_curve(curves)
        return curve, apex_index(curve), curves
    curve = clip_motion(grey, "flow" if method == "regions" else method)
    return curve, int(np.argmax(curve)), {}


def _plot(
    path: Path,
    numbers: Sequence[int],
    curve: np.ndarray,
    apex: int,
    annotated: int | None,
    regions: dict[str, np.ndarray],
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 3))
    for name, values in regions.items():
        ax.plot(numbers, values, lw=0.8, ls=":" if name in EYES else "-", label=name.replace("_", " "))
    ax.plot(numbers, curve, color="k", lw=1.5, label="expression (eyes left out)" if regions else "motion")
    ax.axvline(apex, color="tab:red", label=f"spotted apex {apex}")
    if annotated is not None:
        ax.axvline(annotated, color="tab:blue", ls="--", label=f"annotated apex {annotated}")
    ax.set_xlabel("frame")
    ax.set_ylabel("facial motion")
    ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def where(sample: Sample) -> str:
    """Where errors about ``sample`` point: its sheet and line, else its clip's path."""
    return sample.source or str(sample.path)


def process_sample(sample: Sample, options: Options) -> tuple[int, str, bool]:
    """Spot, crop and cache one clip; return its apex, ``annotated`` or ``spotted``, and whether its
    motion was measured on the whole frame because ``face=auto`` found no face.

    Raises:
        AnnotationError: the clip cannot be read, its frames lie outside it, or (``face=crop`` or
            ``--crop``) it has no face; the message starts with :func:`where`.
    """
    at = where(sample)
    onset, apex, offset = sample.onset, sample.apex, sample.offset
    source = open_checked(sample.path, onset, offset, at)
    try:
        numbers = list(range(onset, offset + 1))
        spot = apex is None or options.overwrite
        measure = spot or options.curves_dir or options.plot_dir
        track = face_crop(sample, options) if measure or options.crop_dir else None
        faceless = bool(measure) and track is None and options.face == "auto"
        if measure:
            frames = [source.read(c) for c in _chunks(numbers)]
            greys = [to_grey(track.apply(f), None) if track else to_grey(f, options.work_width) for f in frames]
            grey = np.concatenate(greys)
            curve, peak, regions = clip_curves(grey, track, options.method)
            spotted = onset + peak
            if options.curves_dir:
                save_curve(curve_path(options.curves_dir, sample.id), np.array(numbers), curve)
            if options.plot_dir:
                _plot(options.plot_dir / f"{sample.id}.png", numbers, curve, spotted, apex, regions)
        if options.crop_dir:
            _write_aligned(source, track, sample, options)
    except (FrameReadError, NoFaceError) as error:
        raise AnnotationError(f"{at}: {error}") from error
    return (spotted if spot else apex), ("spotted" if spot else "annotated"), faceless


def _job(args: tuple[Sample, Options]) -> tuple[tuple[int, str, bool] | None, str | None]:
    import cv2

    cv2.setNumThreads(1)  # one clip per process: OpenCV's own threads would oversubscribe the cores
    sample, options = args
    try:
        return process_sample(sample, options), None
    except AnnotationError as error:
        return None, str(error)


def output_row(sample: Sample, apex: int, apex_source: str, root: Path | None) -> dict[str, object]:
    """The canonical row of a sample (:func:`mer.data.annotations.canonical_row`) with its apex and
    where the apex came from."""
    return {**canonical_row(sample, root), "apex": apex, "apex_source": apex_source}


def extract(
    samples: Sequence[Sample],
    out: Path,
    options: Options,
    *,
    root: str | Path | None = None,
    workers: int | None = None,
) -> list[str]:
    """Process every sample into the canonical CSV ``out``; return the errors of the ones left out.

    ``root``: the dataset root the output's ``clip`` paths are relative to (read it back with
    ``dataset=csv dataset.root=<root>``); a clip outside it is written as an absolute path. Each clip
    measured on the whole frame for want of a face (``face=auto``) is named in a warning.
    """
    jobs = [(s, options) for s in samples]
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    if workers == 1:
        results = [_job(j) for j in tqdm(jobs, desc="clips", unit="clip")]
    else:
        # spawn, not fork: a fork after OpenCV's or torch's thread pools have run can deadlock the child
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            results = list(tqdm(pool.map(_job, jobs), total=len(jobs), desc="clips", unit="clip"))
    for s, (r, _) in zip(samples, results, strict=True):
        if r is not None and r[2]:
            log.warning(
                "%s: no face in %s, its motion measured on the whole frame (--face crop: an error)", where(s), s.path
            )
    root = None if root is None else Path(root)
    header = [*canonical_columns(samples), "apex_source"]
    written = (output_row(s, *r[:2], root) for s, (r, _) in zip(samples, results, strict=True) if r is not None)
    write_csv_atomic(out, header, ([row[c] for c in header] for row in written))
    return [e for _, e in results if e is not None]
