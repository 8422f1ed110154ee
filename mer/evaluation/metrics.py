"""UF1, UAR and accuracy over pooled predictions, computed with scikit-learn.

Scores are macro averages over the classes that occur in the ground truth; classes with no true
sample are listed, never silently dropped, and predictions of them still count as errors.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, recall_score

from mer.data.annotations import au_sort_key


def score(labels: Sequence[int], predictions: Sequence[int], class_names: Sequence[str]) -> dict:
    """Pooled metrics: ``uf1``, ``uar``, ``accuracy``, per-class recall and F1, the confusion matrix."""
    y, p = np.asarray(labels, dtype=int), np.asarray(predictions, dtype=int)
    if y.size == 0:
        raise ValueError("no predictions to score")
    all_classes = list(range(len(class_names)))
    present = sorted(set(y.tolist()))
    f1 = f1_score(y, p, labels=all_classes, average=None, zero_division=0)
    recall = recall_score(y, p, labels=all_classes, average=None, zero_division=0)
    return {
        "uf1": float(f1_score(y, p, labels=present, average="macro", zero_division=0)),
        "uar": float(recall_score(y, p, labels=present, average="macro", zero_division=0)),
        "accuracy": float(accuracy_score(y, p)),
        "num_samples": int(y.size),
        "support": {class_names[c]: int((y == c).sum()) for c in all_classes},
        "recall": {class_names[c]: float(recall[c]) for c in present},
        "f1": {class_names[c]: float(f1[c]) for c in present},
        "classes_without_samples": [class_names[c] for c in all_classes if c not in present],
        "confusion_matrix": confusion_matrix(y, p, labels=all_classes).tolist(),
    }


def au_scores(annotated: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> dict:
    """Per-AU F1 over the samples that carry AU annotations, for every AU annotated or predicted
    there, and their mean; a sample with no annotated AU is not scored (its AUs are unknown)."""
    pairs = [(set(a), set(p)) for a, p in zip(annotated, predicted, strict=True) if a]
    if not pairs:
        return {"num_samples": 0, "f1": {}, "support": {}, "mean_f1": None}
    vocabulary = sorted({au for a, p in pairs for au in a | p}, key=au_sort_key)
    y = np.array([[au in a for au in vocabulary] for a, _ in pairs])
    p = np.array([[au in q for au in vocabulary] for _, q in pairs])
    f1 = f1_score(y, p, average=None, zero_division=0)
    return {
        "num_samples": len(pairs),
        "f1": {au: float(v) for au, v in zip(vocabulary, f1, strict=True)},
        "support": {au: int(y[:, i].sum()) for i, au in enumerate(vocabulary)},
        "mean_f1": float(f1[y.any(axis=0)].mean()),  # over the AUs that occur; predicted-only ones score 0
    }
