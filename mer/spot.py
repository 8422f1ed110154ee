"""``python -m mer.spot``: micro-expression intervals in footage of any length, and their classes.

    python -m mer.spot VIDEO [--out intervals.csv] [--model final_model.pt] [--fps N]
    python -m mer.spot dataset=NAME dataset.root=DIR [KEY=VALUE ...] [--out ...] [--model ...]

VIDEO is a video file or a folder of numbered frames (give ``--fps`` for a folder). Each interval
found (:mod:`mer.preprocessing.intervals`) is written as ``video,onset,apex,offset,score`` (frame
numbers as the clip numbers them; ``score``: the apex's excursion over the spotting threshold);
with ``--model`` (a ``final_model.pt`` from ``python -m mer.train ... trainer.final_fit=true``) each
is classified and ``class,probability`` added, through the face stage the model was trained with
(``--face``, as ``python -m mer.predict`` takes it; with ``dataset=``, the dataset's own face stage);
an interval in which no face is found is an error naming the video (with ``dataset=``, its row's
class is ``no face``). Without ``--out`` the table is printed.

With Hydra ``dataset=`` overrides (as ``python -m mer.train`` and ``data_tools/extract_apex.py``
take them) every video of the dataset is spotted whole and scored against its annotated intervals
with the MEGC metric (a hit: IoU >= 0.5; precision, recall, F1), printed at the end.

Exit status 2 if a video cannot be read or the dataset cannot be loaded.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from hydra.errors import HydraException
from omegaconf.errors import OmegaConfBaseException
from tqdm import tqdm

from mer.atomic import write_or_print_csv
from mer.config_check import path_or_overrides
from mer.data.annotations import AnnotationError
from mer.data.faces import MODES, NoFaceError
from mer.data.frames import FrameReadError
from mer.preprocessing.intervals import Interval, Settings, spot_intervals, video_motion
from mer.preprocessing.spotting_metric import score

if TYPE_CHECKING:
    from mer.predict import Classifier

COLUMNS = ("video", "onset", "apex", "offset", "score")


def video_fps(path: Path) -> float | None:
    """The frame rate a video file declares (``None`` for a folder of frames or when it declares none)."""
    if path.is_dir():
        return None
    if not path.exists():
        raise FrameReadError(f"{path}: clip not found")
    import av

    try:
        with av.open(str(path)) as container:
            rate = container.streams.video[0].average_rate
    except (av.FFmpegError, IndexError) as error:
        raise FrameReadError(f"{path}: unreadable video ({error})") from error
    return float(rate) if rate else None


def spot_video(path: Path, fps: float | None, settings: Settings, cache_dir: Path | None) -> list[Interval]:
    """The intervals of one video (``fps``: given, else the video's own)."""
    fps = fps or video_fps(path)
    if not fps:
        raise ValueError(f"{path}: no frame rate known; give --fps")
    return spot_intervals(video_motion(path, fps, settings, cache_dir=cache_dir), fps, settings)


def _dataset_videos(
    overrides: Sequence[str],
) -> tuple[dict[Path, list[tuple[int, int]]], dict[Path, float | None], Path, str]:
    """Each video of the dataset, its annotated intervals and frame rate, the landmark cache and the
    dataset's face stage."""
    from mer.compose import compose_config, load_samples

    cfg = compose_config(overrides)
    truth: dict[Path, list[tuple[int, int]]] = {}
    rates: dict[Path, float | None] = {}
    for sample in load_samples(cfg, labelled=False, clips="present"):  # spotting needs no class
        truth.setdefault(sample.path, []).append((sample.onset, sample.offset))
        rates[sample.path] = sample.fps
    face = cfg.dataset.get("face", {}).get("mode", "none")
    return truth, rates, Path(cfg.trainer.clip_cache_dir).expanduser(), face


def _classified(classifier: Classifier, path: Path, interval: Interval, in_dataset: bool) -> dict[str, str]:
    """``class`` and ``probability`` of one interval; in a dataset, a video without a face gets a row
    saying so (alone, its :class:`~mer.data.faces.NoFaceError` is the error)."""
    try:
        probabilities = classifier(path, interval.onset, interval.offset, interval.apex)
    except NoFaceError:
        if not in_dataset:
            raise
        return {"class": classifier.NO_FACE, "probability": ""}
    best = max(probabilities, key=probabilities.get)
    return {"class": best, "probability": f"{probabilities[best]:.4f}"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="+", metavar="VIDEO | KEY=VALUE", help="a video, or dataset= overrides")
    parser.add_argument("--out", type=Path, help="write the intervals here (CSV); default: print them")
    parser.add_argument("--model", type=Path, help="final_model.pt: classify each interval")
    parser.add_argument("--fps", type=float, help="frame rate (default: the video's; needed for frame folders)")
    parser.add_argument("--threshold", type=float, default=Settings.threshold, help="robust deviations to spot")
    parser.add_argument("--cache", type=Path, help="landmark cache (default with dataset=: trainer.clip_cache_dir)")
    parser.add_argument(
        "--face",
        choices=("auto", *MODES),
        default="auto",
        help="with --model, a video's face stage: auto (as trained; a model of released face crops aligns)",
    )
    args = parser.parse_args(argv)
    video, overrides = path_or_overrides(args.inputs, parser, "VIDEO")
    if overrides and args.face != "auto":
        parser.error("--face is for a video; a dataset's videos go through its own dataset.face.mode")
    settings = Settings(threshold=args.threshold)
    try:
        face = args.face
        if overrides:
            truth, rates, cache, face = _dataset_videos(overrides)
            cache = args.cache or cache
        else:
            truth, rates, cache = {}, {video: None}, args.cache
        classifier = None
        if args.model:
            from mer.predict import Classifier

            classifier = Classifier(args.model, face)
        found: dict[Path, list[Interval]] = {}
        for path in tqdm(list(rates), desc="videos", unit="video", disable=len(rates) == 1):
            found[path] = spot_video(path, args.fps or rates[path], settings, cache)
        rows = []
        intervals = [(path, i) for path, spotted in found.items() for i in spotted]
        for path, i in tqdm(intervals, desc="classifying", unit="interval", disable=classifier is None):
            row = {"video": str(path), "onset": i.onset, "apex": i.apex, "offset": i.offset, "score": f"{i.score:.3f}"}
            if classifier is not None:
                row.update(_classified(classifier, path, i, in_dataset=bool(overrides)))
            rows.append(row)
    except (
        AnnotationError,
        FileNotFoundError,
        FrameReadError,
        ValueError,
        HydraException,
        OmegaConfBaseException,
    ) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    columns = [*COLUMNS, *(("class", "probability") if classifier is not None else ())]
    write_or_print_csv(args.out, columns, ([row[c] for c in columns] for row in rows))
    if not rows:
        print(
            f"no interval spotted in {len(found)} video(s): no movement peaked {settings.threshold:g} robust "
            "deviations above the video's noise (--threshold sets it)",
            file=sys.stderr,
        )
    if args.out:
        print(f"{len(rows)} interval(s) in {len(found)} video(s): {args.out}")
    if overrides:
        spotted = {str(p): [(i.onset, i.offset) for i in s] for p, s in found.items()}
        print(f"MEGC spotting: {score(spotted, {str(p): t for p, t in truth.items()})}")
    return 0


if __name__ == "__main__":
    import torch

    torch.set_num_threads(1)
    sys.exit(main())
