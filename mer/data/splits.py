"""Published train/test splits: a training sheet and named test sheets of one release, read by the
same loader and marked by :attr:`mer.data.annotations.Sample.part` for ``evaluation=split`` (the
CCAC 2024 DFME challenge publishes its training sheet and test sheets A and B this way)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

from mer.data.annotations import AnnotationError, Sample, Samples, identify


def published_split(
    *,
    load: Callable[..., list[Sample]],
    annotations: str | Path,
    test_sheets: Mapping[str, str | Path],
    **release: object,
) -> Samples:
    """The training sheet's samples (part ``train``) then each test sheet's (part: its name), with
    every sheet's ``notes`` (errata applied, rows skipped).

    ``load`` is the release's reader (a Hydra ``_partial_``), called on each sheet with ``release``
    (its ``root``, ``classes``... as the plain dataset config gives them).
    """
    if not test_sheets:
        raise AnnotationError("a published split needs test sheets: dataset.test_sheets={name: sheet, ...}")
    loaded = load(annotations=annotations, **release)
    samples = [replace(s, part="train") for s in loaded]
    notes = list(getattr(loaded, "notes", []))
    for name, sheet in test_sheets.items():
        if name == "train":
            raise AnnotationError(f"{sheet}: name the test sheet something other than 'train'")
        loaded = load(annotations=sheet, **release)
        samples += [replace(s, part=str(name)) for s in loaded]
        notes += getattr(loaded, "notes", [])
    return Samples(identify(samples), notes)
