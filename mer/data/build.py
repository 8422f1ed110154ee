"""The dataset a run's ``dataset`` config describes, built the same way for training and prediction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from omegaconf import OmegaConf
from torch.utils.data import Dataset

from mer.config import SamplingConfig
from mer.data.annotations import Sample
from mer.data.dataset import ClipDataset, ImageDataset

KINDS = ("clips", "flow", "images")


def build_dataset(
    samples: Sequence[Sample],
    dataset: Mapping,
    *,
    cache: str = "memory",
    cache_dir: str | Path | None = None,
) -> Dataset:
    """Clips, onset-apex flow images computed from clips, or image files, as ``dataset.kind`` says.

    ``dataset`` is the run's ``dataset`` config (a DictConfig or the plain dict a checkpoint holds);
    ``cache``/``cache_dir`` are where decoded clips and flow images are kept (``trainer.clip_cache*``).
    """
    kind = dataset.get("kind", "clips")
    size = list(dataset["input_size"])
    if kind == "images":
        return ImageDataset(samples, size=size)
    if kind == "flow":
        from mer.preprocessing.flow import FlowDataset

        if cache_dir is None:
            raise ValueError("dataset.kind=flow keeps its flow images on disk: give a cache directory")
        return FlowDataset(samples, size=size, cache_dir=cache_dir, algorithm=dataset.get("flow_algorithm", "tvl1"))
    if kind != "clips":
        raise ValueError(f"dataset.kind={kind!r}: use one of {', '.join(KINDS)}")
    sampling = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(SamplingConfig), dict(dataset["sampling"])))
    if sampling.strategy == "onset_apex_offset" and sampling.num_frames != 3:
        raise ValueError("sampling strategy onset_apex_offset gives 3 frames: set dataset.sampling.num_frames=3")
    return ClipDataset(
        samples,
        strategy=sampling.strategy,
        num_frames=sampling.num_frames,
        stride=sampling.stride,
        curves_dir=sampling.curves_dir,
        size=size,
        cache=cache,
        cache_dir=cache_dir,
    )
