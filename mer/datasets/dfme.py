"""DFME (Zhao et al., "DFME: A New Benchmark for Dynamic Facial Micro-expression Recognition",
IEEE TAFFC 2023) from its release sheet.

Sheet columns: Subject (``sub0003``), Filename (``sub0003_01``), OnsetFrame, ApexFrame,
OffsetFrame, Emotion, EmotionId, Fps (500, 300 or 200: parts A, B, C), AU. The frame rate is kept in
each sample, since clips of one set differ in it. ``clip_pattern`` places a clip under the root
(a frame folder or a video file), e.g. ``{Filename}`` or ``{Subject}/{Filename}.mp4``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from mer.data.annotations import Sample
from mer.data.labels import LabelSpace
from mer.data.sheets import samples_from_sheet

CITATION = "Zhao et al., DFME: A New Benchmark for Dynamic Facial Micro-expression Recognition, IEEE TAFFC 2023."


def load_dfme(
    *,
    root: str | Path,
    annotations: str | Path,
    classes: Sequence[str],
    class_map: Mapping[str, str | None] | None = None,
    clip_pattern: str = "{Filename}",
    skip_missing: bool = True,
    check_frames: bool = True,
) -> list[Sample]:
    """Samples of the sheet (see :func:`mer.data.sheets.samples_from_sheet`)."""

    def canonical(row: dict[str, object]) -> dict[str, object]:
        names = {k: str(v).strip() for k, v in row.items()}
        return {
            "subject": names["Subject"],
            "clip": clip_pattern.format(**names),
            "onset": row["OnsetFrame"],
            "apex": row["ApexFrame"],
            "offset": row["OffsetFrame"],
            "emotion": row["Emotion"],
            "au": row.get("AU"),
            "fps": row.get("Fps"),
        }

    return samples_from_sheet(
        annotations,
        canonical,
        root=root,
        labels=LabelSpace(list(classes), class_map),
        dataset="dfme",
        skip_missing=skip_missing,
        check_frames=check_frames,
    )
