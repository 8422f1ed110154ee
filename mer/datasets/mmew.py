"""MMEW (Ben et al., "Video-based Facial Micro-Expression Analysis: A Survey of Datasets, Features and
Algorithms", IEEE TPAMI 2022) from its micro-expression sheet and frame folders.

Sheet (``MMEW_Micro_Exp.xlsx``): Subject, Filename, OnsetFrame, ApexFrame, OffsetFrame, Action Units,
Estimated Emotion (anger, disgust, fear, happiness, others, sadness, surprise), remarks. Frames:
``Micro_Expression/<Estimated Emotion>/<Filename>/N.jpg``, the clips filed under their emotion (the
root is the ``Micro_Expression`` folder). Layout and columns as public readers use them (MEB,
github.com/tvaranka/meb, class ``MMEW``); not checked against a copy of the release here.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from mer.data.sheets import samples_from_sheet

CITATION = (
    "Ben et al., Video-based Facial Micro-Expression Analysis: A Survey of Datasets, Features and Algorithms, "
    "IEEE TPAMI 2022 (MMEW)."
)


def mmew_row(row: Mapping[str, object]) -> dict[str, object]:
    """A sheet row on the canonical fields; the clip sits under its emotion's folder."""
    emotion = str(row["Estimated Emotion"]).strip()
    return {
        "subject": str(row["Subject"]).strip(),
        "clip": f"{emotion}/{str(row['Filename']).strip()}",
        "onset": row["OnsetFrame"],
        "apex": row["ApexFrame"],
        "offset": row["OffsetFrame"],
        "emotion": emotion,
        "au": row.get("Action Units"),
    }


#: ``load_mmew(root=..., annotations=..., classes=..., class_map=None, skip_missing=True,
#: check_frames=True, on_bad_row="error")``: the sheet's samples (see
#: :func:`mer.data.sheets.samples_from_sheet`).
load_mmew = partial(samples_from_sheet, row=mmew_row, dataset="mmew")
