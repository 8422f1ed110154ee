"""Figures for papers: the pooled confusion matrix and per-subject accuracy, as PNG files."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mer.atomic import atomic_file

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Figure, path: Path, dpi: int) -> None:
    """``fig`` written through :func:`mer.atomic.atomic_file` (a run's figure is whole or absent), then closed."""
    try:
        with atomic_file(path) as handle:
            fig.savefig(handle, format=Path(path).suffix.lstrip(".") or "png", dpi=dpi)
    finally:
        pyplot().close(fig)


def confusion_figure(path: Path, matrix: Sequence[Sequence[int]], classes: Sequence[str]) -> None:
    """Row-normalised confusion matrix with the counts written in each cell."""
    plt = pyplot()
    counts = np.asarray(matrix, dtype=float)
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    size = 1.2 + 0.7 * len(classes)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(classes)):
        for j in range(len(classes)):
            colour = "white" if rates[i, j] > 0.6 else "black"
            ax.text(j, i, f"{int(counts[i, j])}\n{rates[i, j]:.2f}", ha="center", va="center", color=colour, fontsize=8)
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.colorbar(image, ax=ax, fraction=0.046, label="recall")
    fig.tight_layout()
    save_figure(fig, path, dpi=150)


def subject_figure(path: Path, accuracy: Mapping[str, float]) -> None:
    """Accuracy of each held-out subject, in fold order."""
    plt = pyplot()
    subjects = list(accuracy)
    fig, ax = plt.subplots(figsize=(max(4, 0.25 * len(subjects) + 1.5), 3))
    ax.bar(range(len(subjects)), [accuracy[s] for s in subjects], color="tab:blue")
    ax.set_xticks(range(len(subjects)), subjects, rotation=90, fontsize=7)
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy")
    ax.set_title("per held-out subject")
    fig.tight_layout()
    save_figure(fig, path, dpi=150)
