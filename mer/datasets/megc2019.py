"""The MEGC 2019 composite as per-sample optical-flow images (SMIC-HS + CASME II + SAMM, 68 subjects).

Reads a sample list ``dataset,sub,filename_o,label`` and one flow image a sample, named by a
pattern such as ``{sub}_{filename_o} .png`` (the space is in the published file names). The three
channels are onset-to-apex horizontal flow, vertical flow and optical strain, in the order OpenCV
loads them, as STSTNet was trained (Liong et al., "Shallow Triple Stream Three-dimensional CNN
(STSTNet) for Micro-expression Recognition", FG 2019; MEGC 2019: See et al., FG 2019). Cite SMIC,
CASME II and SAMM when publishing results on it.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from mer.data.annotations import AnnotationError, Sample

CITATION = "MEGC 2019 composite (See et al., FG 2019) of SMIC-HS, CASME II and SAMM; flow images as in STSTNet."


def load_flow_samples(
    *,
    root: str | Path,
    classes: Sequence[str],
    samples: str = "samples.csv",
    image_dir: str = "flow28",
    pattern: str = "{sub}_{filename_o} .png",
) -> list[Sample]:
    """One :class:`Sample` a flow image; ``label`` in the list indexes ``classes``.

    A flow image is one "frame" of its own (frame 0): the onset-to-apex motion is already in it.
    Subjects are prefixed with their source dataset, since SMIC's ``s1`` and SAMM's ``006`` are
    different people from any CASME II ``sub01``.
    """
    root = Path(root).expanduser()
    listing = root / samples
    if not listing.is_file():
        raise AnnotationError(f"{listing}: sample list not found")
    out = []
    with listing.open(newline="") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            where = f"{listing}, line {line}"
            try:
                label = int(row["label"])
                clip = f"{image_dir}/{pattern.format(**row)}"
            except (KeyError, ValueError) as error:
                raise AnnotationError(
                    f"{where}: needs dataset, sub, filename_o and an integer label ({error})"
                ) from None
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
                )
            )
    return out
