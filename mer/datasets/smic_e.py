"""SMIC-E, the extended SMIC (Li et al., "A Spontaneous Micro-expression Database: Inducement,
Collection and Baseline", FG 2013): longer clips around each micro-expression, with its onset and
offset annotated inside them (``SMIC-HS-E_annotation.xlsx``; the VIS and NIR parts have sheets of
the same form).

Sheet columns: Subject (``1``), Filename (``s1_ne_01``), OnsetF, OffsetF, Emotion (negative,
positive, surprise), ApexF where the release has it (the 2019 sheet), besides columns not read
(FirstF, TotalMF, ...); rows without a Filename (notes below the table) hold no sample. Frames:
``sNN/<Filename>/imageNNNNNN.jpg`` (HS-E: the subject zero-padded to two digits, frame numbers six),
N the sheet's frame numbers. Columns and layout as public readers use them (the MEAN
spot-then-recognize code of Liong et al., 2023, and others); not checked against a copy of the
release here.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from mer.data.sheets import samples_from_sheet
from mer.datasets.smic import CITATION as SMIC_CITATION

CITATION = f"{SMIC_CITATION} (SMIC-E: its extended clips)"


def smic_e_row(row: Mapping[str, object]) -> dict[str, object] | None:
    """A sheet row on the canonical fields; None for a row without a Filename."""
    name = str(row["Filename"] or "").strip()
    if not name:
        return None
    subject = f"s{int(float(str(row['Subject']).strip())):02d}"
    return {
        "subject": subject,
        "clip": f"{subject}/{name}",
        "onset": row["OnsetF"],
        "apex": row.get("ApexF"),
        "offset": row["OffsetF"],
        "emotion": row["Emotion"],
    }


#: ``load_smic_e(root=..., annotations=..., classes=..., class_map=None, skip_missing=True,
#: check_frames=True, on_bad_row="error")``: the sheet's samples (see
#: :func:`mer.data.sheets.samples_from_sheet`).
load_smic_e = partial(samples_from_sheet, row=smic_e_row, dataset="smic_e")
