"""Annotation sheets as released: ``.xlsx`` (first sheet) or ``.csv``, header row found by name.

Release sheets do not always start with their header (SAMM's has title rows above it), so the
header is the first row that holds ``header_hint``; each data row comes back as a dict with its
sheet line number for error messages.
"""

from __future__ import annotations

import csv
from pathlib import Path

from mer.data.annotations import AnnotationError


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
