"""CAS(ME)^3 Part A (Li et al., "CAS(ME)^3: A Third Generation Facial Spontaneous Micro-Expression
Database with Depth Information and High Ecological Validity", IEEE TPAMI 2023) from its label sheet.

Sheet (csv or xlsx): Subject (``spNO.1``), Filename (``a``), Onset, Apex, Offset, AU, Objective
class, emotion (anger, disgust, fear, happy, others, sad, surprise). Frames:
``<Subject>/<Filename>/color/<N>.jpg``, N the sheet's frame number (``frames_dir`` names the
``color`` level; the depth frames sit beside it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from mer.data.annotations import Sample
from mer.data.labels import LabelSpace
from mer.data.sheets import samples_from_sheet

CITATION = (
    "Li et al., CAS(ME)^3: A Third Generation Facial Spontaneous Micro-Expression Database with Depth "
    "Information and High Ecological Validity, IEEE TPAMI 2023."
)


def load_casme3(
    *,
    root: str | Path,
    annotations: str | Path,
    classes: Sequence[str],
    class_map: Mapping[str, str | None] | None = None,
    frames_dir: str = "color",
    skip_missing: bool = True,
    check_frames: bool = True,
) -> list[Sample]:
    """Samples of the sheet rows whose frame folder exists under ``root`` (see
    :func:`mer.data.sheets.samples_from_sheet`)."""

    def canonical(row: Mapping[str, object]) -> dict[str, object]:
        subject, name = str(row["Subject"]).strip(), str(row["Filename"]).strip()
        return {
            "subject": subject,
            "clip": "/".join(p for p in (subject, name, frames_dir) if p),
            "onset": row["Onset"],
            "apex": row["Apex"],
            "offset": row["Offset"],
            "emotion": row["emotion"],
            "au": row.get("AU"),
        }

    return samples_from_sheet(
        annotations,
        canonical,
        root=root,
        labels=LabelSpace(list(classes), class_map),
        dataset="casme3",
        skip_missing=skip_missing,
        check_frames=check_frames,
    )
