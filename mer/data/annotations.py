"""The one sample record every dataset maps onto, and the reader of the project's canonical CSV.

Canonical CSV: ``subject,clip,onset,apex,offset,emotion[,au][,fps]``; ``clip`` is a path under the
dataset root (a video file, frames 0-based, or a folder of numbered images, frames as numbered);
``apex`` may be empty when the dataset has none (SMIC).
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

from tqdm import tqdm

from mer.data.frames import FrameReadError, FrameSource, open_frames
from mer.data.labels import LabelSpace

log = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("subject", "clip", "onset", "apex", "offset", "emotion")
#: Every column a sample is written with; ``fps`` only where some sample has a frame rate.
CANONICAL_COLUMNS = (*REQUIRED_COLUMNS, "au", "fps")
#: What a reader does with a broken row: stop naming its file and line, or leave it out and note it.
ON_BAD_ROW = ("error", "skip")
#: The label of a sample whose emotion is empty or outside the class set, which only the tools that
#: need no class (spotting, cropping) read (``labelled=False``); training refuses such rows.
UNLABELLED = -1
T = TypeVar("T")


class AnnotationError(ValueError):
    """A broken annotation row; the message names the file and the line."""


class FormatError(AnnotationError):
    """A file laid out otherwise than its reader expects (a missing column): no row of it can be read,
    so it stops the run even where broken rows are skipped."""


@dataclass(frozen=True)
class Sample:
    """One annotated micro-expression clip.

    Frame numbers are in the clip's own numbering (see :mod:`mer.data.frames`). ``id`` names the
    sample wherever outputs are keyed (predictions, folds, curves, caches): the ``clip`` itself, or
    ``<clip>#<onset>-<offset>`` where one video holds several intervals (see :func:`identify`).
    """

    subject: str
    clip: str
    path: Path
    onset: int
    apex: int | None
    offset: int
    emotion: str
    label: int
    dataset: str
    aus: tuple[str, ...] = ()
    fps: float | None = None
    source: str = ""  # "sheet, line N": where errors about the clip point the user
    part: str = ""  # of a published split: "" or "train" trains, a test sheet's name is held out (protocol split)
    id: str = ""  # empty: the clip

    def __post_init__(self) -> None:
        if not self.id:
            object.__setattr__(self, "id", self.clip)


class Samples(list):
    """A dataset's samples and ``notes``: every sheet row an erratum corrected or dropped and every
    broken row skipped, each as ``"sheet, line N: what (why)"``, so a run can record exactly which
    samples it used and why the others are not among them."""

    def __init__(self, samples: Iterable[Sample] = (), notes: Iterable[str] = ()):
        super().__init__(samples)
        self.notes = list(notes)


def interval_id(clip: str, onset: int, offset: int) -> str:
    """The id of one interval of a video that holds several."""
    return f"{clip}#{onset}-{offset}"


def identify(samples: Sequence[Sample], *, on_bad_row: str = "error", notes: list[str] | None = None) -> list[Sample]:
    """``samples`` with ids unique within the dataset: a clip that holds several intervals names
    each as :func:`interval_id`; the same interval twice is an error naming both sheet lines (with
    ``on_bad_row="skip"``, the later row is left out and noted in ``notes``)."""
    seen: dict[tuple[str, int, int], Sample] = {}
    kept = []
    for s in samples:
        first = seen.setdefault((s.clip, s.onset, s.offset), s)
        if first is s:
            kept.append(s)
            continue
        where = s.source or s.clip
        skip_or_raise(
            AnnotationError(
                f"{where}: the same interval {s.onset}..{s.offset} of {s.clip} as {first.source or 'another row'}"
            ),
            where=where,
            on_bad_row=on_bad_row,
            notes=notes,
        )
    by_clip = Counter(s.clip for s in kept)
    return [replace(s, id=interval_id(s.clip, s.onset, s.offset)) if by_clip[s.clip] > 1 else s for s in kept]


def check_on_bad_row(on_bad_row: str) -> None:
    if on_bad_row not in ON_BAD_ROW:
        raise ValueError(f"on_bad_row={on_bad_row!r}: one of {', '.join(ON_BAD_ROW)}")


def skip_or_raise(error: AnnotationError, *, where: str, on_bad_row: str, notes: list[str] | None) -> None:
    """Raise ``error`` (a broken row at ``where``), or with ``on_bad_row="skip"`` log it and add it to
    ``notes`` as ``"where: skipped, why"``."""
    check_on_bad_row(on_bad_row)
    if on_bad_row == "error" or notes is None:
        raise error
    note = f"{where}: skipped, {str(error).removeprefix(f'{where}: ')}"
    log.warning("%s", note)
    notes.append(note)


def guarded(build: Callable[[], T], *, where: str, on_bad_row: str, notes: list[str]) -> tuple[bool, T | None]:
    """``(True, build())``, or ``(False, None)`` for a broken row skipped by :func:`skip_or_raise`."""
    try:
        return True, build()
    except FormatError:
        raise
    except AnnotationError as error:
        skip_or_raise(error, where=where, on_bad_row=on_bad_row, notes=notes)
        return False, None


def parse_aus(text: str | None) -> tuple[str, ...]:
    """``"4+7"``, ``"AU4+AU7"`` or ``"L12"`` to a tuple of action-unit codes (``AU`` prefix removed)."""
    if text is None:
        return ()
    parts = str(text).replace(",", "+").split("+")
    return tuple(p.strip().upper().removeprefix("AU") for p in parts if p.strip())


def au_code(code: str) -> str:
    """The AU number of a FACS code: ``"L12"``, ``"R12B"``, ``"AU4"`` and ``"4"`` are ``"12"``, ``"12"``,
    ``"4"``, ``"4"`` (side and intensity are dropped; one AU head per muscle action)."""
    match = re.fullmatch(r"[A-Z]*?(\d+)[A-Z]*", code.strip().upper().removeprefix("AU"))
    return str(int(match.group(1))) if match else code.strip().upper()


def au_set(aus: Sequence[str]) -> frozenset[str]:
    return frozenset(au_code(a) for a in aus if a)


def au_sort_key(code: str) -> tuple:
    """Numeric order (``2`` before ``10``), codes that are not numbers last."""
    return (not code.isdigit(), int(code) if code.isdigit() else 0, code)


def _int_or_none(value: str | None) -> int | None:
    if value is None or str(value).strip() in ("", "/", "-", "nan", "None"):
        return None
    return int(float(value))


def parse_key_frames(row: Mapping[str, object], where: str) -> tuple[int, int | None, int]:
    """``(onset, apex or None, offset)`` of a row, checked for onset <= apex <= offset."""
    try:
        onset = _int_or_none(row["onset"])
        apex = _int_or_none(row.get("apex"))
        offset = _int_or_none(row["offset"])
    except (TypeError, ValueError) as error:
        raise AnnotationError(f"{where}: frame numbers must be integers ({error})") from error
    if onset is None or offset is None:
        raise AnnotationError(f"{where}: onset and offset are required")
    if not onset < offset or (apex is not None and not onset <= apex <= offset):
        raise AnnotationError(
            f"{where}: needs onset <= apex <= offset and onset < offset, got {onset}, {apex}, {offset}"
        )
    return onset, apex, offset


def open_checked(path: Path, onset: int, offset: int, where: str) -> FrameSource:
    """Open a clip and check that onset..offset lies inside it."""
    try:
        source = open_frames(path)
    except FrameReadError as error:
        raise AnnotationError(f"{where}: {error}") from error
    if onset < source.first or offset > source.last:
        raise AnnotationError(
            f"{where}: frames {onset}..{offset} outside the clip's {source.first}..{source.last} ({path})"
        )
    return source


def csv_text(path: Path) -> str:
    """A CSV sheet's text: UTF-8, with or without the byte-order mark Excel's "CSV UTF-8" writes.

    A workbook or a file in another encoding is an :class:`AnnotationError` naming the file, not a
    ``UnicodeDecodeError`` that dumps bytes (or a BOM glued to the first column's name).
    """
    data = path.read_bytes()
    if data.startswith(b"PK\x03\x04"):
        raise AnnotationError(f"{path}: an Excel workbook, not a CSV; save it as CSV (UTF-8) or name it .xlsx")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise AnnotationError(
            f"{path}, line {line}: not UTF-8 text (byte 0x{data[error.start]:02x}); save it as CSV (UTF-8)"
        ) from None


def read_rows(annotations: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Columns and ``(line number, row)`` of a canonical CSV, checking the required columns are
    there; a row's number is its line in the file (blank lines, which hold no row, still count)."""
    if not annotations.is_file():
        raise AnnotationError(f"{annotations}: annotation file not found")
    reader = csv.DictReader(io.StringIO(csv_text(annotations), newline=""))
    columns = list(reader.fieldnames or [])
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise AnnotationError(f"{annotations}, line 1: missing columns {missing}; need {list(REQUIRED_COLUMNS)}")
    return columns, [(reader.line_num, row) for row in reader]


def make_sample(
    row: Mapping[str, object],
    *,
    root: Path,
    labels: LabelSpace,
    dataset: str,
    where: str,
    check_frames: bool = True,
    labelled: bool = True,
) -> Sample | None:
    """Validate one annotation row and build its :class:`Sample`; ``None`` if its class is left out.

    Release-format readers call this too, so every dataset gets the same checks and messages.

    Args:
        row: fields ``subject, clip, onset, apex, offset, emotion`` and optionally ``au, fps``.
        where: ``"file, line N"``, prefixed to every error.
        check_frames: open the clip and check the frame numbers lie inside it.
        labelled: an emotion that is empty or outside the class set is an error; ``False`` (tools
            that need no class) keeps such a row, labelled :data:`UNLABELLED`.
    """
    onset, apex, offset = parse_key_frames(row, where)
    emotion = str(row["emotion"] or "").strip()
    try:
        label = labels.to_index(emotion)
    except KeyError as error:
        if labelled:
            raise AnnotationError(f"{where}: {error.args[0]}") from None
        label = UNLABELLED
    if label is None:
        return None
    clip = str(row["clip"]).strip()
    path = root / clip
    if check_frames:
        open_checked(path, onset, offset, where)
    fps = row.get("fps")
    return Sample(
        subject=str(row["subject"]).strip(),
        clip=clip,
        path=path,
        onset=onset,
        apex=apex,
        offset=offset,
        emotion=emotion,
        label=label,
        dataset=dataset,
        aus=parse_aus(row.get("au")),
        fps=float(fps) if fps not in (None, "") else None,
        source=where,
    )


def canonical_row(sample: Sample, root: Path | None) -> dict[str, object]:
    """A sample as a canonical CSV row: ``clip`` relative to ``root`` (the dataset's), else absolute."""
    inside = root is not None and sample.path.expanduser() == Path(root).expanduser() / sample.clip
    return {
        "subject": sample.subject,
        "clip": sample.clip if inside else str(sample.path.expanduser().resolve()),
        "onset": sample.onset,
        "apex": "" if sample.apex is None else sample.apex,
        "offset": sample.offset,
        "emotion": sample.emotion,
        "au": "+".join(sample.aus),
        "fps": "" if sample.fps is None else f"{sample.fps:g}",
    }


def canonical_columns(samples: Sequence[Sample]) -> list[str]:
    """The canonical columns ``samples`` need: ``fps`` only where some sample has a frame rate."""
    return [c for c in CANONICAL_COLUMNS if c != "fps" or any(s.fps is not None for s in samples)]


def read_canonical_csv(
    annotations: str | Path,
    *,
    root: str | Path,
    classes: Iterable[str],
    class_map: Mapping[str, str | None] | None = None,
    dataset: str,
    check_frames: bool = True,
    on_bad_row: str = "error",
    labelled: bool = True,
) -> Samples:
    """Read a canonical CSV into samples, checking every row.

    ``on_bad_row="skip"`` leaves broken rows out instead, each listed in the log and the result's
    ``notes``. ``labelled=False`` keeps rows whose emotion is empty or unknown (:func:`make_sample`),
    for the tools that need no class.

    Raises:
        AnnotationError: a missing column or a broken row, naming the file and line.
    """
    check_on_bad_row(on_bad_row)
    annotations, root = Path(annotations), Path(root)
    labels = LabelSpace(list(classes), class_map)
    _, rows = read_rows(annotations)
    samples, left_out, notes = [], Counter(), []
    for line, row in tqdm(rows, desc=f"checking {annotations.name}", leave=False):
        where = f"{annotations}, line {line}"
        built, sample = guarded(
            lambda row=row, where=where: make_sample(
                row,
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
        if built and sample is None:
            left_out[row["emotion"].strip().lower()] += 1
        elif sample is not None:
            samples.append(sample)
    if left_out:
        log.info("%s: left out by the class mapping: %s", annotations.name, dict(left_out))
    if not samples:
        raise AnnotationError(f"{annotations}: no samples")
    return Samples(identify(samples, on_bad_row=on_bad_row, notes=notes), notes)
