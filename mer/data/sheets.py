"""Annotation sheets as released: ``.xlsx`` or ``.csv``, header row found by name (or columns
named by the reader, for sheets without a header), rows mapped onto the canonical fields, known
errata applied, and every row checked.

Release sheets do not always start with their header (SAMM's has title rows above it), so the
header is the first row that holds ``header_hint``; each data row comes back as a dict with its
sheet line number for error messages.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from mer.data.annotations import (
    AnnotationError,
    FormatError,
    Samples,
    check_on_bad_row,
    csv_text,
    guarded,
    identify,
    make_sample,
)
from mer.data.errata import apply_errata, load_errata
from mer.data.labels import LabelSpace

log = logging.getLogger(__name__)

#: A reader's row mapping: the canonical fields of a sheet row, or None for a row that holds no
#: sample of this reader (a macro-expression of a long-video sheet, a note below the table).
RowMap = Callable[[Mapping[str, object]], "dict[str, object] | None"]


def read_table(path: str | Path, *, worksheet: str | int = 0) -> list[list[object]]:
    """Every row of a sheet (an ``.xlsx`` worksheet by name or index, or a ``.csv``) as cell values."""
    path = Path(path)
    if not path.is_file():
        raise AnnotationError(f"{path}: annotation sheet not found")
    if path.suffix.lower() not in (".xlsx", ".xlsm"):
        return [list(r) for r in csv.reader(io.StringIO(csv_text(path), newline=""))]
    import openpyxl

    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        names = workbook.sheetnames
        name = names[worksheet] if isinstance(worksheet, int) and worksheet < len(names) else worksheet
        if name not in names:
            raise AnnotationError(f"{path}: no worksheet {worksheet!r}; it has {names}")
        return [list(r) for r in workbook[name].iter_rows(values_only=True)]
    finally:
        workbook.close()


def read_sheet(
    path: str | Path,
    *,
    header_hint: str = "Filename",
    columns: Sequence[str] | None = None,
    worksheet: str | int = 0,
) -> list[tuple[int, dict[str, object]]]:
    """``(line number, row)`` for every non-empty row under the header; ``columns`` names the
    columns of a sheet that has no header row (every non-empty row is then data)."""
    rows = read_table(path, worksheet=worksheet)
    start, names = 0, list(columns or ())
    while columns is None:
        if start == len(rows):
            raise AnnotationError(f"{path}: no header row with a {header_hint!r} column")
        names = [str(c).strip() if c is not None else "" for c in rows[start]]
        start += 1
        if header_hint in names:
            break
    return [
        (line, {n: v for n, v in zip(names, values, strict=False) if n})
        for line, values in enumerate(rows[start:], start=start + 1)
        if any(v not in (None, "") for v in values)
    ]


def map_row(row: RowMap, values: Mapping[str, object], where: str) -> dict[str, object] | None:
    """``row(values)``; a row it cannot map is an error naming ``where`` and, for a missing column,
    the column (a :class:`FormatError`: no row of the sheet can be read)."""
    try:
        return row(values)
    except KeyError as error:
        raise FormatError(f"{where}: no {error.args[0]!r} column") from None
    except (TypeError, ValueError) as error:
        raise AnnotationError(f"{where}: {error}") from None


def canonical_rows(annotations: str | Path, row: RowMap) -> list[tuple[int, dict[str, object]]]:
    """``(line number, canonical fields)`` of every sheet row that holds a sample, mapped by ``row``."""
    mapped = ((line, map_row(row, values, f"{annotations}, line {line}")) for line, values in read_sheet(annotations))
    return [(line, canonical) for line, canonical in mapped if canonical is not None]


def samples_from_sheet(
    *,
    annotations: str | Path,
    row: RowMap,
    dataset: str,
    root: str | Path,
    classes: Sequence[str],
    class_map: Mapping[str, str | None] | None = None,
    skip_missing: bool = True,
    check_frames: bool = True,
    leave_out: Sequence[str] = (),
    errata: str | Path | None = None,
    on_bad_row: str = "error",
    header_hint: str = "Filename",
    columns: Sequence[str] | None = None,
    worksheet: str | int = 0,
    labelled: bool = True,
) -> Samples:
    """Samples of a release sheet ``annotations``, each row mapped by ``row`` onto the canonical
    fields, labelled over ``classes`` (``class_map``: the sheet's emotion names onto them, None to
    leave a sample out).

    Each database's reader is this with its own ``row`` and ``dataset`` bound. With
    ``skip_missing`` (a partial copy of a database) rows whose clip is absent under ``root`` are
    counted and logged instead of failing. ``errata`` (a packaged name such as ``casme3``, or a
    file; see :mod:`mer.data.errata`) corrects or drops the release's known broken rows first, each
    logged with its line. Any other problem in a row is an error naming the sheet and line, unless
    ``on_bad_row="skip"``: the row is then left out and listed in the log. Both kinds land in the
    result's ``notes``. ``check_frames=False`` parses the sheet without opening any clip.
    ``leave_out``: emotion words (any case) whose rows are dropped before the class mapping, as a
    protocol leaves them out (CASME II's fear and sadness in the MEGC 2019 composite).
    ``header_hint``, ``columns`` and ``worksheet``: see :func:`read_sheet`. ``labelled=False`` keeps
    rows whose emotion is empty or unknown, for the tools that need no class
    (:func:`mer.data.annotations.make_sample`).
    """
    check_on_bad_row(on_bad_row)
    labels = LabelSpace(list(classes), class_map)
    root = Path(root).expanduser()
    raw = read_sheet(annotations, header_hint=header_hint, columns=columns, worksheet=worksheet)
    notes: list[str] = []
    if errata is not None:
        raw, notes = apply_errata(raw, load_errata(errata), sheet=annotations)
    samples, missing, mapped = [], 0, 0
    dropped = {str(e).strip().lower() for e in leave_out}
    for line, values in raw:
        where = f"{annotations}, line {line}"
        _, canonical = guarded(
            lambda values=values, where=where: map_row(row, values, where),
            where=where,
            on_bad_row=on_bad_row,
            notes=notes,
        )
        if canonical is None:
            continue
        mapped += 1
        if str(canonical["emotion"]).strip().lower() in dropped:
            continue
        if check_frames and skip_missing and not (root / str(canonical["clip"])).exists():
            missing += 1
            continue
        _, sample = guarded(
            lambda canonical=canonical, where=where: make_sample(
                canonical,
                root=root,
                labels=labels,
                dataset=dataset,
                where=where,
                check_frames=check_frames,
                labelled=labelled,
            ),
            where=where,
            on_bad_row=on_bad_row,
            notes=notes,
        )
        if sample is not None:
            samples.append(sample)
    log.info(
        "%s: %d clips found, %d of %d sheet rows have no frames under %s",
        dataset,
        len(samples),
        missing,
        mapped,
        root,
    )
    return Samples(identify(samples, on_bad_row=on_bad_row, notes=notes), notes)
