"""CASME II (Yan et al., "CASME II: An Improved Spontaneous Micro-Expression Database and the
Baseline Evaluation", PLoS ONE 2014) from its coding sheet and frame folders.

Coding sheet columns: Subject (1..26), Filename (``EP02_01f``), OnsetFrame, ApexFrame,
OffsetFrame, Action Units, Estimated Emotion. Frames: ``subNN/<Filename>/imgN.jpg`` (raw) or
``reg_imgN.jpg`` (cropped release), N being the sheet's frame number. Some apexes are ``/``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

from mer.data.annotations import Sample, make_sample
from mer.data.labels import LabelSpace
from mer.data.sheets import read_sheet

log = logging.getLogger(__name__)

CITATION = (
    "Yan et al., CASME II: An Improved Spontaneous Micro-Expression Database and the Baseline Evaluation, "
    "PLoS ONE 2014."
)


def load_casme2(
    *,
    root: str | Path,
    annotations: str | Path,
    classes: Sequence[str],
    class_map: Mapping[str, str | None] | None = None,
    skip_missing: bool = True,
) -> list[Sample]:
    """Samples of the sheet rows whose frame folder exists under ``root``.

    With ``skip_missing`` (a partial copy of the database), rows without frames are counted and
    logged instead of failing; every other problem in a row is an error naming the sheet line.
    """
    root, labels = Path(root).expanduser(), LabelSpace(list(classes), class_map)
    samples, missing = [], 0
    rows = read_sheet(annotations)
    for line, row in rows:
        subject = f"sub{int(row['Subject']):02d}"
        clip = f"{subject}/{str(row['Filename']).strip()}"
        if skip_missing and not (root / clip).is_dir():
            missing += 1
            continue
        canonical = {
            "subject": subject,
            "clip": clip,
            "onset": row["OnsetFrame"],
            "apex": row["ApexFrame"],
            "offset": row["OffsetFrame"],
            "emotion": row["Estimated Emotion"],
            "au": row.get("Action Units"),
        }
        sample = make_sample(canonical, root=root, labels=labels, dataset="casme2", where=f"{annotations}, line {line}")
        if sample is not None:
            samples.append(sample)
    log.info(
        "CASME II: %d clips found, %d of %d sheet rows have no frames under %s", len(samples), missing, len(rows), root
    )
    return samples
