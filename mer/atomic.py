"""Atomic file writes: finished work is either wholly on disk or not at all."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, fsync it, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would make results unreadable to collaborators
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | Path, text: str) -> None:
    """``text`` as UTF-8, written atomically (no newline translation)."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | Path, data: object) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A CSV table as text (``\\n`` line ends), to print or to write."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def write_or_print_csv(out: str | Path | None, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """A command's CSV output: written atomically to ``out``, or printed where no file is given."""
    text = csv_text(header, rows)
    if out:
        write_text_atomic(out, text)
    else:
        print(text, end="")


def write_csv_atomic(path: str | Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    write_text_atomic(path, csv_text(header, rows))
