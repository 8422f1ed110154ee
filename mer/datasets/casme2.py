"""CASME II (Yan et al., "CASME II: An Improved Spontaneous Micro-Expression Database and the
Baseline Evaluation", PLoS ONE 2014) from its coding sheet and frame folders.

Coding sheet columns: Subject (1..26), Filename (``EP02_01f``), OnsetFrame, ApexFrame,
OffsetFrame, Action Units, Estimated Emotion. Frames: ``subNN/<Filename>/imgN.jpg`` (raw) or
``reg_imgN.jpg`` (cropped release), N being the sheet's frame number. Some apexes are ``/``.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

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


#: ``load_casme2(root=..., annotations=..., classes=..., class_map=None, skip_missing=True,
#: check_frames=True, on_bad_row="error")``: the coding sheet's samples (see
#: :func:`mer.data.sheets.samples_from_sheet`).
load_casme2 = partial(samples_from_sheet, row=casme2_row, dataset="casme2")
