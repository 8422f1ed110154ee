"""SAMM (Davison et al., "SAMM: A Spontaneous Micro-Facial Movement Dataset", IEEE TAC 2018) from its
FACS-codes sheet and frame folders.

Sheet (``SAMM_Micro_FACS_Codes_v2.xlsx``): title rows above the header, then Subject (written ``6``),
Filename (``006_1_2``), Inducement Code, Onset Frame, Apex Frame, Offset Frame, Duration, Type,
Action Units, Notes, Estimated Emotion. Frames: ``006/006_1_2/006_05562.jpg``, the subject
zero-padded to three digits on disk and the number after the last ``_`` the sheet's frame number.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from mer.data.sheets import samples_from_sheet

CITATION = "Davison et al., SAMM: A Spontaneous Micro-Facial Movement Dataset, IEEE TAC 2018."


def samm_subject(value: object) -> str:
    """The sheet's subject (``6``, ``6.0`` or ``006``) as its folder name, ``006``."""
    return f"{int(float(str(value).strip())):03d}"


def samm_row(row: Mapping[str, object]) -> dict[str, object]:
    """A SAMM sheet row on the canonical fields."""
    subject = samm_subject(row["Subject"])
    return {
        "subject": subject,
        "clip": f"{subject}/{str(row['Filename']).strip()}",
        "onset": row["Onset Frame"],
        "apex": row["Apex Frame"],
        "offset": row["Offset Frame"],
        "emotion": row["Estimated Emotion"],
        "au": row.get("Action Units"),
    }


#: ``load_samm(root=..., annotations=..., classes=..., class_map=None, skip_missing=True,
#: check_frames=True, on_bad_row="error")``: the FACS sheet's samples (see
#: :func:`mer.data.sheets.samples_from_sheet`).
load_samm = partial(samples_from_sheet, row=samm_row, dataset="samm")
