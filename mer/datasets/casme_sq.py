"""CAS(ME)^2 (Qu et al., "CAS(ME)^2: A Database for Spontaneous Macro-Expression and Micro-Expression
Spotting and Recognition", IEEE TAC 2018), its micro-expression part: long videos, each holding
several annotated expressions.

Sheet (``CAS(ME)^2code_final(Updated).xlsx``), three worksheets without header rows:

- the codes (first worksheet, ``CASFEcode_final``): participant (``1``), expression (``anger1_1``:
  the video's name, ``_``, the expression's number in it), onset, apex, offset, AUs, estimated
  emotion (negative, others, positive, surprise), type (``micro-expression`` or
  ``macro-expression``), self-reported emotion;
- ``naming rule1``: the subject's number, its folder (``s15``) and the participant number;
- ``naming rule2``: the video's code (``0101``) and its name (``disgust1``).

Frames: ``s15/15_0101disgustingteeth/img1.jpg`` (``rawpic``, or ``cropped``), the video folder being
the one under the subject's whose name starts with ``<number>_<code>``; frame numbers from 1 as the
sheet writes them. An offset of 0 is an offset the coders left unannotated: the expression is read
as ending at its apex, as the MEGC spotting baselines read it. Macro-expressions hold no sample
here. Layout reconstructed from public readers (the MEGC 2020 MDMD baseline, the MEAN
spot-then-recognize code, MEB's tools); not checked against a copy of the release here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

from mer.data.annotations import AnnotationError, Samples
from mer.data.sheets import read_table, samples_from_sheet

CITATION = (
    "Qu et al., CAS(ME)^2: A Database for Spontaneous Macro-Expression and Micro-Expression Spotting and "
    "Recognition, IEEE TAC 2018."
)
COLUMNS = ("participant", "expression", "onset", "apex", "offset", "aus", "emotion", "type", "self-reported")


def _cell(value: object) -> str:
    """A cell as written: ``15``, ``15.0`` and ``"15"`` are ``"15"``."""
    text = "" if value is None else str(value).strip()
    return text.removesuffix(".0") if text.removesuffix(".0").isdigit() else text


def _naming(annotations: str | Path, worksheet: str, key: int, value: int) -> dict[str, str]:
    """``{cell key: cell value}`` over the rows of a naming worksheet."""
    out = {}
    for line, row in enumerate(read_table(annotations, worksheet=worksheet), start=1):
        cells = [_cell(c) for c in row]
        if not any(cells):
            continue
        if len(cells) <= max(key, value) or not cells[key] or not cells[value]:
            raise AnnotationError(f"{annotations}, {worksheet}, line {line}: needs columns {key + 1} and {value + 1}")
        out[cells[key]] = cells[value]
    return out


def naming_rules(annotations: str | Path) -> tuple[dict[str, str], dict[str, str]]:
    """``participant -> subject folder`` (``"1" -> "s15"``) and ``video name -> code``
    (``"disgust1" -> "0101"``) from the naming worksheets."""
    subjects = _naming(annotations, "naming rule1", key=2, value=1)
    videos = _naming(annotations, "naming rule2", key=1, value=0)
    return (
        {k: f"s{int(v):02d}" if v.isdigit() else v for k, v in subjects.items()},
        {k: v.zfill(4) if v.isdigit() else v for k, v in videos.items()},
    )


def video_folder(root: Path, subject: str, code: str) -> str:
    """``s15/15_0101disgustingteeth`` for code ``0101``: the folder under the subject's whose name
    starts with ``<number>_<code>``, or ``s15/<code>`` (absent) when there is none."""
    pattern = re.compile(rf"^\d+_{re.escape(code)}")
    found = sorted(p.name for p in (root / subject).glob(f"*_{code}*") if p.is_dir() and pattern.match(p.name))
    if len(found) > 1:
        raise ValueError(f"several folders for video {code} under {root / subject}: {found}")
    return f"{subject}/{found[0] if found else code}"


def casme_sq_row(
    row: Mapping[str, object],
    *,
    root: Path,
    subjects: Mapping[str, str],
    videos: Mapping[str, str],
    kind: str = "micro-expression",
) -> dict[str, object] | None:
    """A code row on the canonical fields; None for an expression of another ``kind``."""
    if str(row["type"]).strip().lower() != kind.lower():
        return None
    participant, video = _cell(row["participant"]), str(row["expression"]).strip().rsplit("_", 1)[0]
    if participant not in subjects:
        raise ValueError(f"participant {participant} is not in the naming rule1 worksheet")
    if video not in videos:
        raise ValueError(f"video {video!r} is not in the naming rule2 worksheet")
    apex, offset = (None if _cell(row[k]) == "0" else row[k] for k in ("apex", "offset"))
    return {
        "subject": subjects[participant],
        "clip": video_folder(root, subjects[participant], videos[video]),
        "onset": row["onset"],
        "apex": apex,
        "offset": apex if offset is None else offset,
        "emotion": row["emotion"],
        "au": row.get("aus"),
    }


def load_casme_sq(
    *, root: str | Path, annotations: str | Path, kind: str = "micro-expression", **release: Any
) -> Samples:
    """The sheet's expressions of ``kind`` (``micro-expression``, or ``macro-expression``), each a
    sample named ``<video>#<onset>-<offset>`` where its video holds several; ``release`` are
    :func:`mer.data.sheets.samples_from_sheet`'s ``classes``, ``class_map``, ``skip_missing``,
    ``check_frames`` and ``on_bad_row``."""
    subjects, videos = naming_rules(annotations)
    root = Path(root).expanduser()
    row = partial(casme_sq_row, root=root, subjects=subjects, videos=videos, kind=kind)
    return samples_from_sheet(
        annotations=annotations, root=root, row=row, dataset="casme_sq", columns=COLUMNS, **release
    )
