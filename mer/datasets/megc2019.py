"""The MEGC 2019 composite (SMIC-HS + CASME II + SAMM, 68 subjects, 442 samples, negative / positive /
surprise): built from the three databases' own sheets and frames, or read as per-sample flow images.

:func:`load_composite` builds it from the releases and checks it against the official list;
:func:`load_flow_samples` reads a sample list ``dataset,sub,filename_o,label`` and one flow image a sample, named by a
pattern such as ``{sub}_{filename_o} .png`` (the space is in the published file names). The three
channels are onset-to-apex horizontal flow, vertical flow and optical strain in the files' RGB order
(measured: see :class:`mer.data.dataset.ImageDataset`), as STSTNet was trained (Liong et al.,
"Shallow Triple Stream Three-dimensional CNN (STSTNet) for Micro-expression Recognition", FG 2019;
MEGC 2019: See et al., FG 2019). Cite SMIC, CASME II and SAMM when publishing results on it.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

from mer.data.annotations import AnnotationError, Sample, csv_text, parse_aus
from mer.data.sheets import canonical_rows
from mer.datasets.casme2 import casme2_row, load_casme2
from mer.datasets.samm import load_samm, samm_row
from mer.datasets.smic import load_smic, smic_clip_name

log = logging.getLogger(__name__)

CITATION = "MEGC 2019 composite (See et al., FG 2019) of SMIC-HS, CASME II and SAMM; flow images as in STSTNet."


def load_flow_samples(
    *,
    root: str | Path,
    classes: Sequence[str],
    samples: str = "samples.csv",
    image_dir: str = "flow28",
    pattern: str = "{sub}_{filename_o} .png",
    au_sheets: Mapping[str, str | Path] | None = None,
) -> list[Sample]:
    """One :class:`Sample` a flow image; ``label`` in the list indexes ``classes``.

    A flow image is one "frame" of its own (frame 0): the onset-to-apex motion is already in it.
    Subjects are prefixed with their source dataset, since SMIC's ``s1`` and SAMM's ``006`` are
    different people from any CASME II ``sub01``. The list carries no action units; ``au_sheets``
    (``{"casme2": coding sheet, "samm": FACS sheet}``, any subset) attaches each source sheet's AUs
    to its samples, for the auxiliary AU head; SMIC has none.
    """
    aus = sheet_aus(au_sheets or {})
    root = Path(root).expanduser()
    listing = root / samples
    if not listing.is_file():
        raise AnnotationError(f"{listing}: sample list not found")
    out = []
    reader = csv.DictReader(io.StringIO(csv_text(listing), newline=""))
    for row in reader:
        where = f"{listing}, line {reader.line_num}"
        try:
            label = int(row["label"])
            clip = f"{image_dir}/{pattern.format(**row)}"
        except (KeyError, ValueError) as error:
            raise AnnotationError(f"{where}: needs dataset, sub, filename_o and an integer label ({error})") from None
        if not 0 <= label < len(classes):
            raise AnnotationError(f"{where}: label {label} outside 0..{len(classes) - 1} ({list(classes)})")
        path = root / clip
        if not path.is_file():
            raise AnnotationError(f"{where}: flow image not found: {path}")
        out.append(
            Sample(
                subject=f"{row['dataset']}/{row['sub']}",
                clip=clip,
                path=path,
                onset=0,
                apex=0,
                offset=0,
                emotion=classes[label],
                label=label,
                dataset=row["dataset"],
                aus=aus.get((row["dataset"], f"{row['sub']}/{row['filename_o']}"), ()),
            )
        )
    if aus:
        log.info(
            "%s: %d of %d samples carry action units from %s",
            listing,
            sum(bool(s.aus) for s in out),
            len(out),
            ", ".join(sorted(au_sheets)),
        )
    return out


#: How each source sheet's rows map onto the canonical fields, for :func:`sheet_aus`.
SHEET_ROWS = {"casme2": casme2_row, "samm": samm_row}


def sheet_aus(au_sheets: Mapping[str, str | Path]) -> dict[tuple[str, str], tuple[str, ...]]:
    """``(dataset, "sub/filename") -> AUs`` from each source's release sheet."""
    out = {}
    for dataset, path in au_sheets.items():
        if dataset not in SHEET_ROWS:
            raise ValueError(f"au_sheets: no sheet reader for {dataset!r}; known: {', '.join(SHEET_ROWS)}")
        for _, canonical in canonical_rows(path, SHEET_ROWS[dataset]):
            out[(dataset, canonical["clip"])] = parse_aus(canonical["au"])
    return out


CLASSES = ("negative", "positive", "surprise")
#: How each source's emotions enter the composite (See et al., FG 2019). CASME II's negative class is
#: disgust and repression only (its few fear and sadness clips stay out); SAMM's is its five negative
#: emotions; SMIC is already negative / positive / surprise. "others" stays out everywhere.
CASME2_TO_COMPOSITE = {
    "happiness": "positive",
    "surprise": "surprise",
    "disgust": "negative",
    "repression": "negative",
    "fear": None,
    "sadness": None,
    "others": None,
}
SAMM_TO_COMPOSITE = {
    "anger": "negative",
    "contempt": "negative",
    "disgust": "negative",
    "fear": "negative",
    "sadness": "negative",
    "happiness": "positive",
    "surprise": "surprise",
    "other": None,
}
#: CASME II clips whose emotion maps into the composite but which its official list leaves out.
CASME2_LEFT_OUT = frozenset({("sub04", "EP12_01f"), ("sub05", "EP09_05f")})


def load_composite(
    *,
    casme2_root: str | Path,
    casme2_annotations: str | Path,
    samm_root: str | Path,
    samm_annotations: str | Path,
    smic_root: str | Path,
    official_list: str | Path | None = None,
    check_frames: bool = True,
) -> list[Sample]:
    """The composite's clips from the three releases, subjects prefixed with their database.

    With ``official_list`` (the ``dataset,sub,filename_o,label`` file that defines the composite),
    the built set must equal it, sample for sample and label for label, or an error lists the
    differences.
    """
    casme2 = [
        s
        for s in load_casme2(
            root=casme2_root,
            annotations=casme2_annotations,
            classes=CLASSES,
            class_map=CASME2_TO_COMPOSITE,
            check_frames=check_frames,
        )
        if (s.subject, Path(s.clip).name) not in CASME2_LEFT_OUT
    ]
    samm = load_samm(
        root=samm_root,
        annotations=samm_annotations,
        classes=CLASSES,
        class_map=SAMM_TO_COMPOSITE,
        check_frames=check_frames,
    )
    smic = load_smic(root=smic_root, classes=CLASSES)
    samples = [dataclasses.replace(s, subject=f"{s.dataset}/{s.subject}") for s in (*smic, *casme2, *samm)]
    if official_list is not None:
        check_composite(samples, official_list)
    return samples


def composite_entry(sample: Sample) -> tuple[str, str, str, int]:
    """``(dataset, sub, filename_o, label)`` of a built sample, as the official list writes it."""
    name = smic_clip_name(sample) if sample.dataset == "smic" else Path(sample.clip).name
    return sample.dataset, sample.subject.split("/", 1)[-1], name, sample.label


def check_composite(samples: Sequence[Sample], official_list: str | Path) -> None:
    """Raise :class:`AnnotationError` unless ``samples`` are exactly the official list."""
    path = Path(official_list)
    if not path.is_file():
        raise AnnotationError(f"{path}: official composite list not found")
    with path.open(newline="") as handle:
        official = {(r["dataset"], r["sub"], r["filename_o"], int(r["label"])) for r in csv.DictReader(handle)}
    built = {composite_entry(s) for s in samples}
    missing, extra = sorted(official - built), sorted(built - official)
    if missing or extra:
        raise AnnotationError(
            f"{path}: the composite built from the sheets differs from the official list: "
            f"{len(missing)} listed samples not built (e.g. {missing[:3]}), "
            f"{len(extra)} built samples not listed (e.g. {extra[:3]}); a relabelled sample shows in both"
        )
