"""CASME II (Yan et al., "CASME II: An Improved Spontaneous Micro-Expression Database and the
Baseline Evaluation", PLoS ONE 2014) from its coding sheet and frame folders.

Coding sheet columns: Subject (1..26), Filename (``EP02_01f``), OnsetFrame, ApexFrame,
OffsetFrame, Action Units, Estimated Emotion. Frames: ``subNN/<Filename>/imgN.jpg`` (raw) or
``reg_imgN.jpg`` (cropped release), N being the sheet's frame number. Some apexes are ``/``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from mer.data.annotations import Sample
from mer.data.labels import LabelSpace
from mer.data.sheets import samples_from_sheet

CITATION = (
    "Yan et al., CASME II: An Improved Spontaneous Micro-Expression Database and the Baseline Evaluation, "
    "PLoS ONE 2014."
)


def casme2_row(row: Mapping[str, object]) -> dict[str, object]:
    """A coding-sheet row on the canonical fields."""
    subject = f"sub{int(row['Subject']):02d}"
    return {
        "subject": subject,
        "clip": f"{subject}/{str(row['Filename']).strip()}",
        "onset": row["OnsetFrame"],
        "apex": row["ApexFrame"],
        "offset": row["OffsetFrame"],
        "emotion": row["Estimated Emotion"],
        "au": row.get("Action Units"),
    }


def load_casme2(
    *,
    root: str | Path,
    annotations: str | Path,
    classes: Sequence[str],
    class_map: Mapping[str, str | None] | None = None,
    skip_missing: bool = True,
    check_frames: bool = True,
) -> list[Sample]:
    """Samples of the sheet rows whose frame folder exists under ``root`` (see
    :func:`mer.data.sheets.samples_from_sheet`)."""

    return samples_from_sheet(
        annotations,
        casme2_row,
        root=root,
        labels=LabelSpace(list(classes), class_map),
        dataset="casme2",
        skip_missing=skip_missing,
        check_frames=check_frames,
    )
