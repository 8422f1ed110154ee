"""The dataset a run's ``dataset`` config describes, built the same way for training and prediction."""

from __future__ import annotations

import copy
import dataclasses
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

from omegaconf import OmegaConf
from torch.utils.data import Dataset
from tqdm import tqdm

from mer.config import SamplingConfig
from mer.config_check import ConfigError
from mer.data.annotations import AnnotationError, Sample, skip_or_raise
from mer.data.dataset import ClipDataset, ImageDataset
from mer.data.face_stage import FaceStage
from mer.data.features import FeatureDataset
from mer.data.flow import FlowClipDataset, FlowDataset
from mer.data.frames import FrameReadError, open_frames
from mer.data.sampling import FRAME_KINDS, input_frames

KINDS = ("clips", "flow", "flow_clip", "images", "features")

#: The dataset keys that shape the tensor a model is given from a clip's frames (after the face stage).
INPUT_KEYS = ("kind", "input_size", "sampling", "flow_algorithm", "normalization")


def face_stage(dataset: Mapping, cache_dir: str | Path | None) -> FaceStage:
    """The dataset's ``face`` setting (absent: frames as released) with its landmark cache beside the clips'."""
    face = dict(dataset.get("face") or {})
    return FaceStage(
        mode=face.get("mode", "none"),
        size=int(face.get("size", 224)),
        cache_dir=cache_dir,
        on_missing=face.get("on_missing", "error"),
    )


def preprocessing(dataset: Mapping) -> dict[str, dict]:
    """What a run's ``dataset`` config (resolved, plain) does to a clip before its model sees it, as
    a checkpoint keeps it so that prediction repeats it: ``face`` (the face stage's mode and size)
    and ``input`` (the :data:`INPUT_KEYS` it has); ``{**input, "face": face}`` builds the same tensors."""
    face = dict(dataset.get("face") or {})
    return {
        "face": {"mode": face.get("mode", "none"), "size": int(face.get("size", 224))},
        "input": {key: copy.deepcopy(dataset[key]) for key in INPUT_KEYS if key in dataset},
    }


def build_dataset(
    samples: Sequence[Sample],
    dataset: Mapping,
    *,
    cache: str = "memory",
    cache_dir: str | Path | None = None,
) -> Dataset:
    """Clips, flow clips or onset-apex flow images computed from clips, or image files, as
    ``dataset.kind`` says.

    ``dataset`` is the run's ``dataset`` config (a DictConfig or the plain dict a checkpoint holds);
    ``cache``/``cache_dir`` are where decoded clips and flow images are kept (``trainer.clip_cache*``).
    """
    kind = dataset.get("kind", "clips")
    size = list(dataset["input_size"])
    if kind == "images":
        return ImageDataset(samples, size=size)
    if kind == "features":
        return FeatureDataset(samples, root=dataset["root"], input_kind=dataset["input_kind"], size=size)
    if kind not in KINDS:
        raise ValueError(f"dataset.kind={kind!r}: use one of {', '.join(KINDS)}")
    face = face_stage(dataset, cache_dir)
    algorithm = dataset.get("flow_algorithm", "tvl1")
    if kind in ("flow", "flow_clip") and cache_dir is None:
        raise ValueError(f"dataset.kind={kind} keeps its flow on disk: give a cache directory")
    if kind == "flow":
        return FlowDataset(samples, size=size, cache_dir=cache_dir, algorithm=algorithm, face=face)
    common = _sampling(dataset)
    if kind == "flow_clip":
        return FlowClipDataset(samples, **common, size=size, cache_dir=cache_dir, algorithm=algorithm, face=face)
    return ClipDataset(samples, **common, size=size, cache=cache, cache_dir=cache_dir, face=face)


def _sampling(dataset: Mapping) -> dict:
    """The dataset's key-frame sampling, typed (a misspelt key fails here) and checked, as the keyword
    arguments of the frame datasets and :func:`~mer.data.sampling.input_frames`."""
    sampling = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(SamplingConfig), dict(dataset["sampling"])))
    if sampling.strategy == "onset_apex_offset" and sampling.num_frames != 3:
        raise ValueError("sampling strategy onset_apex_offset gives 3 frames: set dataset.sampling.num_frames=3")
    return dataclasses.asdict(sampling)


def frames_read(sample: Sample, dataset: Mapping) -> list[int]:
    """The frame numbers of ``sample`` that :func:`build_dataset` with ``dataset`` decodes to make its
    input (:func:`~mer.data.sampling.input_frames`; none for ready-made images and features)."""
    kind = dataset.get("kind", "clips")
    if kind not in FRAME_KINDS:
        return []
    return input_frames(sample, kind) if kind == "flow" else input_frames(sample, kind, **_sampling(dataset))


def decodable(samples: Sequence[Sample], dataset: Mapping, *, on_bad_row: str | None, notes: list[str]) -> list[Sample]:
    """``samples`` whose frames the input is made from (:func:`frames_read`) all decode, checked
    before any training so that a truncated, empty or missing frame is not a traceback mid-run.

    Each failure is named by the sample's sheet line. ``on_bad_row`` (the reader's; ``None`` where
    it takes none) ``error``: one :class:`~mer.config_check.ConfigError` naming every failure, one a
    line; ``skip``: those samples left out, each logged and added to ``notes``.
    """
    failures: dict[int, tuple[str, str]] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a missing apex is warned about where the input is made
        for s in tqdm(samples, desc="checking frames", unit="clip", leave=False):
            numbers = frames_read(s, dataset)
            try:
                if numbers:
                    open_frames(s.path).read(numbers)
            except FrameReadError as error:
                failures[id(s)] = (s.source or s.id, str(error))
    if failures and on_bad_row != "skip":
        skip = ", or set dataset.samples.on_bad_row=skip to leave them out" if on_bad_row else ""
        lines = [f"{where}: {why}" for where, why in failures.values()]
        raise ConfigError(
            "\n".join([f"{len(lines)} sample(s) with frames that do not decode (fix those frames{skip}):", *lines])
        )
    for where, why in failures.values():
        skip_or_raise(AnnotationError(why), where=where, on_bad_row="skip", notes=notes)
    return [s for s in samples if id(s) not in failures]
