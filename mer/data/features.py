"""A features folder (``data_tools/export_features.py``) as a dataset: each sample's stored input,
read by id from one memory-mapped array; its layout is described in :mod:`mer.datasets.features`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from mer.data.annotations import AnnotationError, Sample

FEATURES, SAMPLES, PROVENANCE = "features.npy", "samples.jsonl", "provenance.json"


def provenance(root: str | Path) -> dict:
    path = Path(root) / PROVENANCE
    if not path.is_file():
        raise AnnotationError(f"{path}: not a features folder (written by data_tools/export_features.py)")
    return json.loads(path.read_text())


class FeatureDataset(Dataset):
    """``(T x H x W x C uint8 clip, label)`` of each sample, read from the folder's array by id."""

    def __init__(self, samples: Sequence[Sample], *, root: str | Path, input_kind: str, size: Sequence[int]):
        root = Path(root)
        written = provenance(root)["input"]
        if written["kind"] != input_kind or list(written["size"]) != list(size):
            raise AnnotationError(
                f"{root / PROVENANCE}: the features are {written['kind']} of {written['size']}; the model reads "
                f"{input_kind} of {list(size)} (input.kind, input.size): export them for this model's input"
            )
        self.array = np.load(root / FEATURES, mmap_mode="r")
        with open(root / SAMPLES) as f:
            rows = {json.loads(text)["id"]: row for row, text in enumerate(f)}
        self.rows = [rows[s.id] for s in samples]
        self.labels = [s.label for s in samples]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return torch.from_numpy(np.array(self.array[self.rows[index]])), self.labels[index]
