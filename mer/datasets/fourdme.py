"""4DME (Li et al., "4DME: A Spontaneous 4D Micro-Expression Dataset With Multimodalities", IEEE TAC
2022) from its labelling sheet and its 2D frame folders.

Sheet (``4DME_Labelling_Micro_release v1.xlsx``): sub_ID, fold_name, Onset, Apex, Offset, AUs,
Emotion, and one column per emotion (Positive, Negative, Surprise, Repression, Others) that is not
read. Frames: ``<sub_ID>/<fold_name>/N.jpg`` under the grey 2D release (``gray_micro``, or
``gray_micro_crop`` cropped). Columns and layout as public readers use them (MEB,
github.com/tvaranka/meb, class ``Fourd``); not checked against a copy of the release here. A sample
annotated with several emotions is an unknown emotion word, naming its line, until the class set
maps its spelling.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from mer.data.sheets import samples_from_sheet

CITATION = "Li et al., 4DME: A Spontaneous 4D Micro-Expression Dataset With Multimodalities, IEEE TAC 2022."


def fourdme_row(row: Mapping[str, object]) -> dict[str, object]:
    """A labelling-sheet row on the canonical fields."""
    subject = str(row["sub_ID"]).strip()
    return {
        "subject": subject,
        "clip": f"{subject}/{str(row['fold_name']).strip()}",
        "onset": row["Onset"],
        "apex": row["Apex"],
        "offset": row["Offset"],
        "emotion": row["Emotion"],
        "au": row.get("AUs"),
    }


#: ``load_fourdme(root=..., annotations=..., classes=..., class_map=None, skip_missing=True,
#: check_frames=True, on_bad_row="error")``: the sheet's samples (see
#: :func:`mer.data.sheets.samples_from_sheet`). The header is the row that names ``fold_name``.
load_fourdme = partial(samples_from_sheet, row=fourdme_row, dataset="fourdme", header_hint="fold_name")
