"""Computed inputs that travel: a folder written by ``data_tools/export_features.py`` from any
``dataset=`` config, read back as a dataset on another machine.

Computing flow (TV-L1 needs OpenCV contrib) and face crops takes the frames, the libraries and the
time; what a model reads is a few MB of uint8 arrays. The folder holds:

- ``features.npy``: ``N x T x H x W x C`` uint8, one row a sample, exactly what the dataset handed
  the model (before normalisation);
- ``samples.jsonl``: each sample's record (subject, clip, key frames, emotion, label, database, part,
  action units, id), in row order;
- ``provenance.json``: the dataset config that computed them, the input kind, size, frames and flow
  algorithm, the class names, the code's commit, the data fingerprint and the notes of the sheet.

Nothing depends on where the frames were: no absolute path or modification time is read back.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

from mer.data.annotations import AnnotationError, Sample, Samples
from mer.data.features import FEATURES, PROVENANCE, SAMPLES, provenance


def sample_record(sample: Sample) -> dict:
    """A sample as one JSON object; the path stays behind (it names the machine that computed it)."""
    record = dataclasses.asdict(sample)
    record.pop("path")
    record["aus"] = list(sample.aus)
    return record


def load_feature_samples(*, root: str | Path, classes: Sequence[str]) -> Samples:
    """The samples of a features folder, checked against the run's class names."""
    root = Path(root)
    record = provenance(root)
    written = record["classes"]
    if list(classes) != list(written):
        raise AnnotationError(
            f"{root / PROVENANCE}: the features were written with classes {written}; "
            f"set dataset/classes to the same set (the run asked for {list(classes)})"
        )
    samples = Samples(notes=record.get("sample_notes", []))
    with open(root / SAMPLES) as f:
        for line, text in enumerate(f, start=1):
            try:
                record = json.loads(text)
                record["aus"] = tuple(record["aus"])
                samples.append(Sample(path=root / FEATURES, **record))
            except (json.JSONDecodeError, TypeError, KeyError) as error:
                raise AnnotationError(f"{root / SAMPLES}, line {line}: not a sample record ({error})") from None
    return samples
