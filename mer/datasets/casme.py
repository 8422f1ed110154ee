"""CASME, the first CASME (Yan et al., "CASME database: A dataset of spontaneous micro-expressions
collected from neutralized faces", IEEE FG 2013) from its coding sheet and frame folders.

Coding sheet columns: Subject (``1``), Filename (``EP01_5``), OnsetF, ApexF1, OffsetF, Emotion
(amusement, contempt, disgust, fear, repression, sadness, surprise, tense), and an AU column when
present (``Action Units``). Frames: ``subNN/<Filename>/<Filename>-N.jpg`` (``reg_...`` when cropped),
N the sheet's frame number. The column names are those public readers use (MEB,
github.com/tvaranka/meb, class ``Casme``); the AU column's name is not confirmed there.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from mer.data.sheets import samples_from_sheet

CITATION = (
    "Yan et al., CASME database: A dataset of spontaneous micro-expressions collected from neutralized faces, "
    "IEEE FG 2013."
)


def casme_row(row: Mapping[str, object]) -> dict[str, object]:
    """A coding-sheet row on the canonical fields."""
    subject = f"sub{int(float(str(row['Subject']).strip())):02d}"
    return {
        "subject": subject,
        "clip": f"{subject}/{str(row['Filename']).strip()}",
        "onset": row["OnsetF"],
        "apex": row["ApexF1"],
        "offset": row["OffsetF"],
        "emotion": row["Emotion"],
        "au": row.get("Action Units"),
    }


#: ``load_casme(root=..., annotations=..., classes=..., class_map=None, skip_missing=True,
#: check_frames=True, on_bad_row="error")``: the coding sheet's samples (see
#: :func:`mer.data.sheets.samples_from_sheet`).
load_casme = partial(samples_from_sheet, row=casme_row, dataset="casme")
