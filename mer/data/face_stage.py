"""The face stage of the data pipeline: ``dataset.face`` (none | crop | align) applied to a clip's frames.

Landmarks are found once per clip (on its onset frame) and cached beside the clip cache; one
transform from them is applied to every frame, so landmark noise never enters the motion signal.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from mer.data.annotations import Sample
from mer.data.faces import MODES, NoFaceError, face_track

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FaceStage:
    """How a clip's frames become the face the features are computed on.

    ``mode``: ``none`` (frames as released: registered crops such as CASME II's), ``crop`` (a square
    box around the landmarks), ``align`` (one similarity transform putting eyes and nose at canonical
    positions). ``size``: the side of the face image. ``cache_dir``: where each clip's landmarks and
    transform are kept (``.npz``). ``on_missing``: a clip with no face found is an ``error`` (naming
    the clip and its sheet line) or is left out of the run (``skip``, each one logged).
    """

    mode: str = "none"
    size: int = 224
    cache_dir: str | Path | None = None
    on_missing: str = "error"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"dataset.face.mode={self.mode!r}: use one of {', '.join(MODES)}")
        if self.mode != "none" and self.cache_dir is None:
            raise ValueError(f"dataset.face.mode={self.mode} keeps each clip's landmarks on disk: give a cache_dir")
        if self.on_missing not in ("error", "skip"):
            raise ValueError(f"dataset.face.on_missing={self.on_missing!r}: use error or skip")

    def settings(self) -> dict[str, object]:
        """What shapes the frames this stage gives (part of every downstream cache key)."""
        return {"mode": self.mode} if self.mode == "none" else {"mode": self.mode, "size": self.size}

    def track(self, sample: Sample):
        """The clip's cached face track (landmarks and transform), located on its onset frame."""
        return face_track(sample.path, sample.onset, mode=self.mode, size=self.size, cache_dir=self.cache_dir)

    def apply(self, sample: Sample, frames: np.ndarray) -> np.ndarray:
        """``frames`` (``T x H x W x 3``, RGB uint8) of ``sample`` as faces of this stage."""
        if self.mode == "none":
            return frames
        return self.track(sample).apply(frames)

    def locate_all(self, samples: Sequence[Sample]) -> list[Sample]:
        """Find (or read back) every clip's face once, before training, and return the samples to use:
        all of them, or with ``on_missing=skip`` those where a face was found."""
        if self.mode == "none":
            return list(samples)
        kept = []
        for s in tqdm(samples, desc=f"faces ({self.mode})", unit="clip", leave=False):
            try:
                self.track(s)
            except NoFaceError as error:
                where = f" ({s.source})" if s.source else ""
                if self.on_missing == "error":
                    raise NoFaceError(
                        f"{error}{where}; set dataset.face.on_missing=skip to leave such clips out"
                    ) from None
                log.warning("left out, no face: %s%s", error, where)
                continue
            kept.append(s)
        return kept
