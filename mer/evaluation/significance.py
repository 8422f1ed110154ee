"""Is one run's UF1 above another's by more than chance? A paired bootstrap over held-out subjects.

Subjects, not samples, are resampled (with replacement), since a subject's clips are not
independent of each other and LOSO holds out whole subjects; both sides of a comparison see the same
resampled subjects, so the test is paired. Each side may be a group of runs (seeds): its UF1 on a
resample is the mean of its runs'. UF1 is the macro F1 over the classes present in the resampled
ground truth, as :func:`mer.evaluation.metrics.score` computes it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

Rows = Sequence[Mapping[str, str]]


@dataclass(frozen=True)
class Difference:
    """UF1 of A minus B on all subjects, its bootstrap interval and two-sided p-value."""

    observed: float
    low: float
    high: float
    p_value: float
    level: float
    resamples: int
    subjects: int

    def sentence(self, a: str, b: str) -> str:
        verdict = "more than chance" if self.p_value < 1 - self.level else "not more than chance"
        return (
            f"UF1 {a} - {b}: {self.observed:+.4f}, {self.level:.0%} interval [{self.low:+.4f}, {self.high:+.4f}] "
            f"over {self.resamples} resamples of the {self.subjects} held-out subjects; p = {self.p_value:.3f}: "
            f"{verdict} at the {1 - self.level:.0%} level"
        )


def macro_f1(confusion: np.ndarray) -> np.ndarray:
    """Macro F1 over the classes with true samples, for ``... x K x K`` confusion matrices (rows: true)."""
    true = confusion.sum(axis=-1)
    predicted = confusion.sum(axis=-2)
    hits = np.diagonal(confusion, axis1=-2, axis2=-1)
    f1 = np.divide(2 * hits, true + predicted, out=np.zeros(hits.shape, dtype=float), where=true + predicted > 0)
    present = true > 0
    return (f1 * present).sum(axis=-1) / np.maximum(present.sum(axis=-1), 1)


def subject_confusions(rows: Rows, subjects: Sequence[str], classes: Sequence[str]) -> np.ndarray:
    """``S x K x K``: each subject's confusion matrix."""
    index, where = {c: i for i, c in enumerate(classes)}, {s: i for i, s in enumerate(subjects)}
    out = np.zeros((len(subjects), len(classes), len(classes)))
    for r in rows:
        out[where[r["subject"]], index[r["label"]], index[r["prediction"]]] += 1
    return out


def paired_bootstrap(
    group_a: Sequence[Rows],
    group_b: Sequence[Rows],
    classes: Sequence[str],
    *,
    resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> Difference:
    """The difference of mean UF1, group A minus group B, resampling the held-out subjects they share.

    Raises:
        ValueError: the runs did not hold out the same subjects.
    """
    runs = [*group_a, *group_b]
    subjects = sorted({r["subject"] for r in runs[0]})
    for rows in runs[1:]:
        other = sorted({r["subject"] for r in rows})
        if other != subjects:
            raise ValueError(
                f"the runs held out different subjects ({sorted(set(subjects) ^ set(other))[:5]}...): not paired"
            )
    confusions = np.stack([subject_confusions(rows, subjects, classes) for rows in runs])  # R x S x K x K
    draws = np.random.default_rng(seed).integers(0, len(subjects), size=(resamples, len(subjects)))
    weights = np.stack([np.bincount(d, minlength=len(subjects)) for d in draws])  # B x S
    pooled = np.einsum("bs,rskl->brkl", weights, confusions)
    scores = macro_f1(pooled)  # B x R
    na = len(group_a)
    differences = scores[:, :na].mean(axis=1) - scores[:, na:].mean(axis=1)
    full = macro_f1(confusions.sum(axis=1))
    tail = (1 - level) / 2
    low, high = np.quantile(differences, [tail, 1 - tail])
    p = min(1.0, 2 * min((differences <= 0).mean(), (differences >= 0).mean()))
    return Difference(
        observed=float(full[:na].mean() - full[na:].mean()),
        low=float(low),
        high=float(high),
        p_value=float(p),
        level=level,
        resamples=resamples,
        subjects=len(subjects),
    )
