"""CAS(ME)^3 Part A (Li et al., "CAS(ME)^3: A Third Generation Facial Spontaneous Micro-Expression
Database with Depth Information and High Ecological Validity", IEEE TPAMI 2023) from its label sheet.

Sheet (csv or xlsx): Subject (``spNO.1``), Filename (``a``), Onset, Apex, Offset, AU, Objective
class, emotion (anger, disgust, fear, happy, others, sad, surprise; three rows write ``Others``).
Frames: ``<Subject>/<Filename>/color/<N>.jpg``, N the sheet's frame number from 1 (``frames_dir``
names the ``color`` level; the depth frames sit beside it). One video often holds several
micro-expressions: each is a sample of its own, named ``<clip>#<onset>-<offset>``. The release's
known broken rows are corrected by ``errata/casme3.yaml`` (see :mod:`mer.data.errata`).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from mer.data.annotations import Samples
from mer.data.sheets import samples_from_sheet

CITATION = (
    "Li et al., CAS(ME)^3: A Third Generation Facial Spontaneous Micro-Expression Database with Depth "
    "Information and High Ecological Validity, IEEE TPAMI 2023."
)


def casme3_row(row: Mapping[str, object], *, frames_dir: str = "color") -> dict[str, object]:
    """A label-sheet row on the canonical fields; the clip is its ``frames_dir`` folder."""
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


def load_casme3(*, frames_dir: str = "color", errata: str | None = "casme3", **release: Any) -> Samples:
    """The label sheet's samples, its known errata applied; ``release`` are
    :func:`mer.data.sheets.samples_from_sheet`'s ``root``, ``annotations``, ``classes``, ``class_map``,
    ``skip_missing``, ``check_frames`` and ``on_bad_row``."""
    return samples_from_sheet(
        row=partial(casme3_row, frames_dir=frames_dir), dataset="casme3", errata=errata, **release
    )
