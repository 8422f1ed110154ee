"""The MEGC spotting metric: a spotted interval is a hit when its IoU with a true interval of the
same video is at least 0.5 (each true interval counted once); precision, recall and F1 over all
videos together, as the challenge sums hits over its videos before dividing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

HIT_IOU = 0.5


def iou(a: tuple[int, int], b: tuple[int, int]) -> float:
    """Intersection over union of two inclusive frame intervals ``(onset, offset)``."""
    inter = min(a[1], b[1]) - max(a[0], b[0]) + 1
    union = (a[1] - a[0] + 1) + (b[1] - b[0] + 1) - max(inter, 0)
    return max(inter, 0) / union


def hits(spotted: Sequence[tuple[int, int]], truth: Sequence[tuple[int, int]]) -> int:
    """Spotted intervals matched one-to-one to true ones with IoU >= 0.5, best overlaps first."""
    pairs = sorted(((iou(s, t), i, j) for i, s in enumerate(spotted) for j, t in enumerate(truth)), reverse=True)
    used_s, used_t = set(), set()
    for overlap, i, j in pairs:
        if overlap < HIT_IOU:
            break
        if i not in used_s and j not in used_t:
            used_s.add(i)
            used_t.add(j)
    return len(used_s)


@dataclass(frozen=True)
class SpotScore:
    hits: int
    spotted: int
    true: int

    @property
    def precision(self) -> float:
        return self.hits / self.spotted if self.spotted else 0.0

    @property
    def recall(self) -> float:
        return self.hits / self.true if self.true else 0.0

    @property
    def f1(self) -> float:
        total = self.spotted + self.true
        return 2 * self.hits / total if total else 0.0

    def __str__(self) -> str:
        return (
            f"{self.hits} hits of {self.spotted} spotted and {self.true} true: precision {self.precision:.3f}, "
            f"recall {self.recall:.3f}, F1 {self.f1:.3f}"
        )


def score(
    spotted: Mapping[str, Iterable[tuple[int, int]]], truth: Mapping[str, Iterable[tuple[int, int]]]
) -> SpotScore:
    """The metric over videos: ``video -> [(onset, offset), ...]`` spotted and true."""
    total = [0, 0, 0]
    for video in set(spotted) | set(truth):
        s, t = list(spotted.get(video, ())), list(truth.get(video, ()))
        total[0] += hits(s, t)
        total[1] += len(s)
        total[2] += len(t)
    return SpotScore(*total)
