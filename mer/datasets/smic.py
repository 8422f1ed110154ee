"""SMIC-HS (Li et al., "A Spontaneous Micro-expression Database: Inducement, Collection and
Baseline", FG 2013) from its folder layout: it has no coding sheet and no apex.

Layout: ``<root>/s1/micro/negative/s1_ne_01/image046432.bmp`` (``reg_image...`` when cropped), the
class being the folder above the clip (negative, positive, surprise). A clip runs from its first to
its last frame; the apex is left unknown, to be spotted (``data_tools/extract_apex.py --curves``
with ``dataset.sampling.strategy=motion``) or taken as the middle frame. Subjects and clips are
named with two-digit subject numbers (``s01``, ``s01_ne_01``), as the MEGC 2019 composite list does.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from mer.data.annotations import AnnotationError, Sample
from mer.data.frames import FolderFrames, FrameReadError
from mer.data.labels import LabelSpace

log = logging.getLogger(__name__)

CITATION = "Li et al., A Spontaneous Micro-expression Database: Inducement, Collection and Baseline, FG 2013."

_SUBJECT = re.compile(r"^s(\d+)$", re.IGNORECASE)
_CLIP = re.compile(r"^s(\d+)_(.+)$", re.IGNORECASE)


def load_smic(
    *,
    root: str | Path,
    classes: Sequence[str],
    class_map: Mapping[str, str | None] | None = None,
    kind: str = "micro",
) -> list[Sample]:
    """One sample a clip folder ``<root>/sN/<kind>/<emotion>/<clip>/``, in subject then clip order."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise AnnotationError(f"{root}: SMIC folder not found")
    labels = LabelSpace(list(classes), class_map)
    subjects = sorted((p for p in root.iterdir() if _SUBJECT.match(p.name)), key=lambda p: int(p.name[1:]))
    samples = []
    for subject_dir in subjects:
        subject = f"s{int(_SUBJECT.match(subject_dir.name).group(1)):02d}"
        for clip_dir in sorted(p for p in (subject_dir / kind).glob("*/*") if p.is_dir()):
            emotion = clip_dir.parent.name
            try:
                label = labels.to_index(emotion)
            except KeyError as error:
                raise AnnotationError(f"{clip_dir}: {error.args[0]}") from None
            if label is None:
                continue
            match = _CLIP.match(clip_dir.name)
            if match is None:
                raise AnnotationError(f"{clip_dir}: clip folder is not named sN_<...> like s1_ne_01")
            try:
                frames = FolderFrames(clip_dir)
            except FrameReadError as error:
                raise AnnotationError(str(error)) from None
            samples.append(
                Sample(
                    subject=subject,
                    clip=clip_dir.relative_to(root).as_posix(),
                    path=clip_dir,
                    onset=frames.first,
                    apex=None,
                    offset=frames.last,
                    emotion=emotion,
                    label=label,
                    dataset="smic",
                )
            )
    log.info("smic: %d clips of %d subjects under %s", len(samples), len(subjects), root)
    return samples


def smic_clip_name(sample: Sample) -> str:
    """The clip's name as the MEGC 2019 list writes it: ``s01_ne_01`` for folder ``s1_ne_01``."""
    match = _CLIP.match(Path(sample.clip).name)
    return f"s{int(match.group(1)):02d}_{match.group(2)}"
