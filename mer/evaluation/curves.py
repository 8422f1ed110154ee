"""Training curves: each fold's loss and training accuracy per epoch, as a CSV beside the fold's
predictions, TensorBoard event files where ``tensorboard`` is installed, and a figure of all folds."""

from __future__ import annotations

import csv
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from mer.atomic import write_csv_atomic
from mer.evaluation.figures import pyplot, save_figure

log = logging.getLogger(__name__)

COLUMNS = ("epoch", "loss", "accuracy", "sampling_power", "reweight_power")


class CurveLog:
    """Collects one fold's epoch records (:func:`mer.training.trainer.train_model`'s ``on_epoch``);
    TensorBoard sees each epoch as it ends, the CSV is written once the fold has finished."""

    def __init__(self, path: Path, *, tensorboard: Path | None = None):
        self.path, self.records = path, []
        self._board = None
        if tensorboard is not None:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                log.debug("tensorboard is not installed: training curves go to CSV only")
            else:
                self._board = SummaryWriter(str(tensorboard))

    def add(self, record: Mapping[str, object]) -> None:
        self.records.append(dict(record))
        if self._board is not None:
            for key in ("loss", "accuracy"):
                if record.get(key) is not None:
                    self._board.add_scalar(f"train/{key}", record[key], record["epoch"])

    def write(self) -> None:
        blank = lambda v: "" if v is None else v  # noqa: E731
        write_csv_atomic(self.path, COLUMNS, ([blank(r.get(c)) for c in COLUMNS] for r in self.records))

    def close(self) -> None:
        if self._board is not None:
            self._board.close()


def read_curve(path: Path) -> dict[str, np.ndarray]:
    """A curve CSV as arrays; a blank accuracy (training methods) is NaN."""
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    number = lambda v: float(v) if v != "" else np.nan  # noqa: E731
    return {c: np.array([number(r[c]) for r in rows]) for c in ("epoch", "loss", "accuracy")}


def read_curves(folds_dir: Path, folds: Sequence[str]) -> dict[str, dict[str, np.ndarray]]:
    """The curves of the folds that have one (runs before curves were written have none)."""
    paths = {name: folds_dir / f"{name}.curve.csv" for name in folds}
    return {name: read_curve(p) for name, p in paths.items() if p.is_file()}


def mean_curve(folds: Mapping[str, Mapping[str, np.ndarray]], key: str) -> tuple[np.ndarray, np.ndarray]:
    """``(epochs, mean of key over the folds)`` over the epochs every fold has; NaN where none has a value."""
    length = min(len(c[key]) for c in folds.values())
    stacked = np.stack([c[key][:length] for c in folds.values()])
    valid = ~np.isnan(stacked)
    mean = np.where(valid.any(axis=0), np.nansum(stacked, axis=0) / np.maximum(valid.sum(axis=0), 1), np.nan)
    return next(iter(folds.values()))["epoch"][:length], mean


def curves_figure(path: Path, runs: Mapping[str, Mapping[str, Mapping[str, np.ndarray]]]) -> None:
    """Loss and training accuracy per epoch: each fold thin, each run's mean over folds thick.

    ``runs``: run label -> fold -> curve; one run is one run's report, several overlay runs."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for (label, folds), colour in zip(runs.items(), colours * len(runs), strict=False):
        for key, ax in zip(("loss", "accuracy"), axes, strict=True):
            for curve in folds.values():
                ax.plot(curve["epoch"], curve[key], color=colour, lw=0.5, alpha=0.25)
            epochs, mean = mean_curve(folds, key)
            if not np.isnan(mean).all():
                ax.plot(epochs, mean, color=colour, lw=2, label=label)
    axes[0].set_ylabel("training loss")
    axes[1].set_ylabel("training accuracy")
    axes[1].set_ylim(0, 1)
    for ax in axes:
        ax.set_xlabel("epoch")
    if any(ax.get_legend_handles_labels()[0] for ax in axes):
        axes[0].legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
