"""Atomic file writes: finished work is either wholly on disk or not at all."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


@contextmanager
def atomic_file(path: str | Path) -> Iterator[BinaryIO]:
    """A binary handle whose content becomes ``path`` only when the block ends without error.

    The handle is a temporary file of its own unique name beside ``path`` (two writers never share
    one), flushed and fsynced before it is renamed into place, so ``path`` holds the old content or
    the whole new one; on any error the temporary file is removed and ``path`` is left untouched.
    For writers that want a file object (``torch.save``, ``savefig``, ``np.savez``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp: Path | None = None
    try:
        with tempfile.NamedTemporaryFile(
            "wb", dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False
        ) as handle:
            tmp = Path(handle.name)
            os.chmod(tmp, 0o644)  # a temporary file is 0600: results would be unreadable to collaborators
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """``data`` written through :func:`atomic_file`."""
    with atomic_file(path) as handle:
        handle.write(data)


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
