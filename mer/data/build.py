"""The dataset a run's ``dataset`` config describes, built the same way for training and prediction."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from pathlib import Path

from omegaconf import OmegaConf
from torch.utils.data import Dataset

from mer.config import SamplingConfig
from mer.data.annotations import Sample
from mer.data.dataset import ClipDataset, ImageDataset
from mer.data.face_stage import FaceStage
from mer.data.features import FeatureDataset
from mer.data.flow import FlowClipDataset, FlowDataset

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
    sampling = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(SamplingConfig), dict(dataset["sampling"])))
    if sampling.strategy == "onset_apex_offset" and sampling.num_frames != 3:
        raise ValueError("sampling strategy onset_apex_offset gives 3 frames: set dataset.sampling.num_frames=3")
    common = dict(strategy=sampling.strategy, num_frames=sampling.num_frames, stride=sampling.stride)
    if kind == "flow_clip":
        return FlowClipDataset(samples, **common, size=size, cache_dir=cache_dir, algorithm=algorithm, face=face)
    return ClipDataset(
        samples, **common, curves_dir=sampling.curves_dir, size=size, cache=cache, cache_dir=cache_dir, face=face
    )
