"""DFME (Zhao et al., "DFME: A New Benchmark for Dynamic Facial Micro-expression Recognition",
IEEE TAFFC 2023) from its release sheet.

Sheet columns: Subject (``sub0003``), Filename (``sub0003_01``), OnsetFrame, ApexFrame,
OffsetFrame, Emotion, EmotionId, Fps (500, 300 or 200: parts A, B, C), AU. The frame rate is kept in
each sample, since clips of one set differ in it. ``clip_pattern`` places a clip under the root
(a frame folder or a video file), e.g. ``{Filename}`` or ``{Subject}/{Filename}.mp4``.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from mer.data.annotations import Samples
from mer.data.sheets import samples_from_sheet

CITATION = "Zhao et al., DFME: A New Benchmark for Dynamic Facial Micro-expression Recognition, IEEE TAFFC 2023."


def dfme_row(row: Mapping[str, object], *, clip_pattern: str = "{Filename}") -> dict[str, object]:
    """A release-sheet row on the canonical fields, its clip placed by ``clip_pattern``."""
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


def load_dfme(*, clip_pattern: str = "{Filename}", **release: Any) -> Samples:
    """The release sheet's samples; ``release`` are :func:`mer.data.sheets.samples_from_sheet`'s
    ``root``, ``annotations``, ``classes``, ``class_map``, ``skip_missing``, ``check_frames`` and
    ``on_bad_row``."""
    return samples_from_sheet(row=partial(dfme_row, clip_pattern=clip_pattern), dataset="dfme", **release)
