"""Annotation sheets as released: ``.xlsx`` (first sheet) or ``.csv``, header row found by name.

Release sheets do not always start with their header (SAMM's has title rows above it), so the
header is the first row that holds ``header_hint``; each data row comes back as a dict with its
sheet line number for error messages.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from mer.data.annotations import AnnotationError, Sample, identify, make_sample
from mer.data.labels import LabelSpace

log = logging.getLogger(__name__)


def read_sheet(path: str | Path, *, header_hint: str = "Filename") -> list[tuple[int, dict[str, object]]]:
    """``(line number, row)`` for every non-empty row under the header."""
    path = Path(path)
    if not path.is_file():
        raise AnnotationError(f"{path}: annotation sheet not found")
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        import openpyxl

        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
        rows = [list(r) for r in workbook.worksheets[0].iter_rows(values_only=True)]
        workbook.close()
    else:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = [list(r) for r in csv.reader(handle)]
    for index, row in enumerate(rows):
        names = [str(c).strip() if c is not None else "" for c in row]
        if header_hint in names:
            out = []
            for line, values in enumerate(rows[index + 1 :], start=index + 2):
                if any(v not in (None, "") for v in values):
                    out.append((line, {n: v for n, v in zip(names, values, strict=False) if n}))
            return out
    raise AnnotationError(f"{path}: no header row with a {header_hint!r} column")


def canonical_rows(
    annotations: str | Path, row: Callable[[Mapping[str, object]], dict[str, object]]
) -> list[tuple[int, dict[str, object]]]:
    """``(line number, canonical fields)`` of every sheet row, mapped by ``row``; a row it cannot
    map is an error naming the sheet, the line and, for a missing column, the column."""
    out = []
    for line, values in read_sheet(annotations):
        try:
            out.append((line, row(values)))
        except KeyError as error:
            raise AnnotationError(f"{annotations}, line {line}: no {error.args[0]!r} column") from None
        except (TypeError, ValueError) as error:
            raise AnnotationError(f"{annotations}, line {line}: {error}") from None
    return out


def samples_from_sheet(
    *,
    annotations: str | Path,
    row: Callable[[Mapping[str, object]], dict[str, object]],
    dataset: str,
    root: str | Path,
    classes: Sequence[str],
    class_map: Mapping[str, str | None] | None = None,
    skip_missing: bool = True,
    check_frames: bool = True,
    leave_out: Sequence[str] = (),
) -> list[Sample]:
    """Samples of a release sheet ``annotations``, each row mapped by ``row`` onto the canonical
    fields, labelled over ``classes`` (``class_map``: the sheet's emotion names onto them, None to
    leave a sample out).

    Each database's reader is this with its own ``row`` and ``dataset`` bound. With
    ``skip_missing`` (a partial copy of a database) rows whose clip is absent under ``root`` are
    counted and logged instead of failing; any other problem in a row is an error naming the sheet
    and line. ``check_frames=False`` parses the sheet without opening any clip. ``leave_out``: emotion
    words (any case) whose rows are dropped before the class mapping, as a protocol leaves them out
    (CASME II's fear and sadness in the MEGC 2019 composite).
    """
    labels = LabelSpace(list(classes), class_map)
    root = Path(root).expanduser()
    samples, missing = [], 0
    rows = canonical_rows(annotations, row)
    dropped = {str(e).strip().lower() for e in leave_out}
    for line, canonical in rows:
        if str(canonical["emotion"]).strip().lower() in dropped:
            continue
        if check_frames and skip_missing and not (root / str(canonical["clip"])).exists():
            missing += 1
            continue
        sample = make_sample(
            canonical,
            root=root,
            labels=labels,
            dataset=dataset,
            where=f"{annotations}, line {line}",
            check_frames=check_frames,
        )
        if sample is not None:
            samples.append(sample)
    log.info(
        "%s: %d clips found, %d of %d sheet rows have no frames under %s",
        dataset,
        len(samples),
        missing,
        len(rows),
        root,
    )
    return identify(samples)
