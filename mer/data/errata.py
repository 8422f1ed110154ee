"""Known errata of official release sheets, kept as data next to their readers and applied to the
sheet's rows before they are read, each logged with its sheet line.

An errata file (YAML) names the number of data rows of the release sheet it describes
(``release_rows``) and lists, per broken row: its sheet ``line``, the ``row`` values that identify it
as released (columns named as in the sheet), the ``problem``, the ``action`` (``drop``, or
``correct`` with ``set: {column: value}``) and the ``reason`` (where the correction comes from). On a
sheet of the release's length, an erratum whose row no longer holds those values is an error: the
release was edited, and silently correcting another row would be worse than stopping. A sheet of
another length is another file (a subset, a fixture, another version): the errata are not applied,
and a note says so.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from mer.data.annotations import AnnotationError

log = logging.getLogger(__name__)

#: Where the packaged errata files live: ``<name>.yaml`` for ``errata: <name>`` in a dataset config.
ERRATA_DIR = Path(__file__).resolve().parents[1] / "datasets" / "errata"
ACTIONS = ("drop", "correct")


@dataclass(frozen=True)
class Erratum:
    line: int
    row: Mapping[str, object]
    problem: str
    action: str
    reason: str
    set: Mapping[str, object]


@dataclass(frozen=True)
class Errata:
    path: Path
    release_rows: int | None  # data rows of the release sheet the entries describe; None: any sheet
    entries: tuple[Erratum, ...]


def errata_path(errata: str | Path) -> Path:
    """A packaged errata file by name (``casme3``), or a file of the user's own."""
    packaged = ERRATA_DIR / f"{errata}.yaml"
    path = packaged if packaged.is_file() else Path(errata).expanduser()
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in ERRATA_DIR.glob("*.yaml")))
        raise AnnotationError(f"errata {errata!r}: neither a file nor a packaged errata name ({known})")
    return path


def load_errata(errata: str | Path) -> Errata:
    """The errata of a file, checked entry by entry (an error names the file and the entry)."""
    path = errata_path(errata)
    content = yaml.safe_load(path.read_text()) or {}
    entries = content.get("errata") or []
    out = []
    for number, entry in enumerate(entries, start=1):
        where = f"{path}, erratum {number}"
        try:
            erratum = Erratum(
                line=int(entry["line"]),
                row=dict(entry["row"]),
                problem=str(entry["problem"]),
                action=str(entry["action"]),
                reason=str(entry["reason"]),
                set=dict(entry.get("set") or {}),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise AnnotationError(f"{where}: needs line, row, problem, action and reason ({error!r})") from None
        if erratum.action not in ACTIONS or (erratum.action == "correct") != bool(erratum.set):
            raise AnnotationError(f"{where}: action is drop, or correct with set: {{column: value}}")
        out.append(erratum)
    rows = content.get("release_rows")
    return Errata(path=path, release_rows=None if rows is None else int(rows), entries=tuple(out))


def _same(a: object, b: object) -> bool:
    """Sheet values compared as written: ``1812``, ``"1812"`` and ``1812.0`` are the same."""
    a, b = ("" if v is None else str(v).strip() for v in (a, b))
    try:
        return float(a) == float(b)
    except ValueError:
        return a == b


def apply_errata(
    rows: Sequence[tuple[int, dict[str, object]]], errata: Errata, *, sheet: str | Path
) -> tuple[list[tuple[int, dict[str, object]]], list[str]]:
    """``rows`` (``(line, values)`` of a sheet) with ``errata`` applied, and a note for each:
    ``"sheet, line N: corrected Offset 0 -> 1845 (problem; reason)"`` or ``"...: dropped (...)"``."""
    if errata.release_rows is not None and len(rows) != errata.release_rows:
        note = (
            f"{sheet}: the release errata {errata.path.name} are not applied: the release they describe has "
            f"{errata.release_rows} rows, this sheet {len(rows)}"
        )
        log.warning("%s", note)
        return list(rows), [note]
    by_line = {line: values for line, values in rows}
    dropped, notes = set(), []
    for erratum in errata.entries:
        where = f"{sheet}, line {erratum.line}"
        values = by_line.get(erratum.line)
        found = {k: (values or {}).get(k) for k in erratum.row}
        if values is None or not all(_same(found[k], v) for k, v in erratum.row.items()):
            raise AnnotationError(
                f"{where}: a known erratum expects {dict(erratum.row)}, the sheet has {found if values else 'no row'}; "
                "the release sheet was edited (dataset.samples.errata=null reads it as it is)"
            )
        if erratum.action == "drop":
            dropped.add(erratum.line)
            what = "dropped"
        else:
            what = "corrected " + ", ".join(f"{k} {values.get(k)} -> {v}" for k, v in erratum.set.items())
            by_line[erratum.line] = {**values, **erratum.set}
        note = f"{where}: {what} ({erratum.problem}; {erratum.reason})"
        log.info("erratum: %s", note)
        notes.append(note)
    return [(line, by_line[line]) for line, _ in rows if line not in dropped], notes
