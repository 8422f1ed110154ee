"""Subject-independent folds and their resumable execution.

Each finished fold's predictions are written atomically to ``<run>/folds/<fold>.csv``; running
the same configuration again in the same directory reads those and computes only the rest.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from tqdm import tqdm

from mer.atomic import write_csv_atomic, write_json_atomic
from mer.config_check import ConfigError

PREDICTION_COLUMNS = ("id", "clip", "subject", "dataset", "label", "prediction", "fold")
#: Added when the model has an action-unit head: the annotated and the predicted AUs, ``"1+4"``.
AU_COLUMNS = ("aus", "aus_predicted")


def has_aus(rows: Sequence[Mapping[str, object]]) -> bool:
    """Whether ``rows`` carry the AU head's columns."""
    return bool(rows) and AU_COLUMNS[1] in rows[0]


def columns(rows: Sequence[Mapping[str, object]]) -> tuple[str, ...]:
    """The prediction columns of ``rows``: AU columns only where the rows carry them."""
    return PREDICTION_COLUMNS + (AU_COLUMNS if has_aus(rows) else ())


PROTOCOLS = ("loso", "kfold", "lodo", "split")


class Member(Protocol):
    """What a protocol needs of a sample (:class:`mer.data.annotations.Sample`)."""

    subject: str
    dataset: str
    part: str


@dataclass(frozen=True)
class Fold:
    """One split: samples of ``test_subjects``, of ``test_datasets`` or of the published test
    ``test_parts`` are held out, every other sample trains."""

    index: int
    test_subjects: tuple[str, ...] = ()
    test_datasets: tuple[str, ...] = ()
    test_parts: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f"fold{self.index:03d}"

    def holds_out(self, sample: Member) -> bool:
        return (
            sample.subject in self.test_subjects
            or sample.dataset in self.test_datasets
            or (sample.part or "train") in self.test_parts
        )


def _natural_key(text: str) -> list:
    """Sort ``sub2`` before ``sub10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def make_folds(samples: Sequence[Member], *, protocol: str = "loso", num_folds: int = 10, seed: int = 0) -> list[Fold]:
    """Folds over the samples' subjects, databases or published parts.

    ``loso``: one fold a subject, in sorted order. ``kfold``: ``num_folds`` subject-disjoint folds
    (DFME's protocol), subjects shuffled by ``seed`` and dealt round-robin, so fold sizes differ
    by at most one subject. ``lodo``: one fold a database (train on the others; the cross-database
    protocols). ``split``: one fold, a published train/test split (``Sample.part``: ``train`` or
    empty trains, each named test part is scored on its own); a subject on both sides is an error.
    """
    if protocol == "lodo":
        datasets = sorted({s.dataset for s in samples})
        if len(datasets) < 2:
            raise ValueError(f"evaluation.protocol=lodo needs two or more databases, the samples hold {datasets}")
        return [Fold(i, test_datasets=(d,)) for i, d in enumerate(datasets)]
    if protocol == "split":
        parts = sorted({s.part for s in samples} - {"", "train"})
        if not parts:
            raise ValueError("evaluation.protocol=split needs samples of a test part (a dataset with test sheets)")
        fold = Fold(0, test_parts=tuple(parts))
        train = {s.subject for s in samples if not fold.holds_out(s)}
        shared = sorted(train & {s.subject for s in samples if fold.holds_out(s)}, key=_natural_key)
        if shared:
            raise ValueError(f"evaluation.protocol=split: subjects {shared} are in both the training and a test part")
        return [fold]
    unique = sorted({s.subject for s in samples}, key=_natural_key)
    if protocol == "loso":
        return [Fold(i, (s,)) for i, s in enumerate(unique)]
    if protocol == "kfold":
        if not 2 <= num_folds <= len(unique):
            raise ValueError(f"kfold needs 2 <= num_folds <= {len(unique)} subjects, got {num_folds}")
        order = [unique[i] for i in np.random.default_rng(seed).permutation(len(unique))]
        return [Fold(k, tuple(sorted(order[k::num_folds]))) for k in range(num_folds)]
    raise ValueError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")


def protocol_description(protocol: str, samples: Sequence[Member], folds: Sequence[Fold]) -> str:
    """The protocol in the words a paper uses."""
    subjects = len({s.subject for s in samples})
    if protocol == "loso":
        return f"leave-one-subject-out over {subjects} subjects"
    if protocol == "kfold":
        return f"{len(folds)}-fold subject-independent cross-validation over {subjects} subjects"
    if protocol == "lodo":
        names = ", ".join(f.test_datasets[0] for f in folds)
        return f"leave-one-database-out over {len(folds)} databases ({names}), {subjects} subjects"
    return f"published split: trained on the training part, scored on each test part ({', '.join(folds[0].test_parts)})"


def fold_seed(seed: int, fold: Fold) -> int:
    """The fold's own seed: the same whether the fold runs alone or inside the whole protocol."""
    return int(np.random.SeedSequence([seed, fold.index]).generate_state(1)[0])


def read_fold(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _leaves(node: object, prefix: str = "") -> dict[str, object]:
    """``{"trainer.epochs": 30, ...}``: each leaf of nested dicts by its dotted key (an empty dict
    inside is a value)."""
    if isinstance(node, dict) and (node or not prefix):
        return {key: leaf for k, v in node.items() for key, leaf in _leaves(v, f"{prefix}{k}.").items()}
    return {prefix.removesuffix("."): node}


def _shown(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def config_changes(old: Mapping, new: Mapping, most: int = 6) -> str:
    """``trainer.epochs: 30 -> 31; ...``: the dotted keys whose values differ, with both values."""
    before, after = _leaves(dict(old)), _leaves(dict(new))
    absent = object()
    changed = [
        f"{key}: {_shown(before.get(key, '(absent)'))} -> {_shown(after.get(key, '(absent)'))}"
        for key in sorted(before.keys() | after.keys())
        if before.get(key, absent) != after.get(key, absent)
    ]
    more = f"; and {len(changed) - most} more" if len(changed) > most else ""
    return "; ".join(changed[:most]) + more


def check_resumable(folds_dir: Path, fingerprint: dict) -> None:
    """Refuse to mix folds from different configurations in one run directory: a
    :class:`~mer.config_check.ConfigError` naming each changed key. Writes the stamp only where
    there is none, so with one in place this only reads (a refused resume changes nothing)."""
    stamp = folds_dir / "config.json"
    if stamp.is_file():
        previous = json.loads(stamp.read_text())
        if previous != fingerprint:
            raise ConfigError(
                f"{folds_dir} holds folds of another configuration ({config_changes(previous, fingerprint)}); "
                "use another hydra.run.dir or delete that folder"
            )
    else:
        write_json_atomic(stamp, fingerprint)


def run_folds(
    folds: Sequence[Fold],
    run_fold: Callable[[Fold], list[dict[str, object]]],
    folds_dir: Path,
    *,
    progress: bool = True,
    workers: int = 1,
    write: bool = True,
    fused: Callable[[Sequence[Fold]], list[tuple[Fold, list[dict[str, object]]]]] | None = None,
    group_size: int = 1,
) -> list[dict[str, str]]:
    """Run each fold not already finished in ``folds_dir`` and return all prediction rows.

    ``workers > 1`` runs that many folds at once in threads (torch releases the GIL inside its
    ops); each fold's file is written as soon as it finishes, so an interruption loses only the
    folds in flight. ``write=False`` (the helper processes of a DDP group) runs the folds but
    leaves writing and pooling to the process that writes, and returns no rows. ``group_size > 1``
    trains that many pending folds at a time through ``fused`` (one batched model), each group's
    files written as it finishes.
    """
    pending = [f for f in folds if not (folds_dir / f"{f.name}.csv").is_file()]

    def finish(fold: Fold, fresh: list[dict[str, object]]) -> None:
        if not write:
            return
        path = folds_dir / f"{fold.name}.csv"
        names = columns(fresh)
        write_csv_atomic(path, names, ([r[c] for c in names] for r in fresh))

    with tqdm(total=len(folds), initial=len(folds) - len(pending), desc="folds", disable=not progress) as bar:
        if group_size > 1 and fused is not None:
            for start in range(0, len(pending), group_size):
                group = pending[start : start + group_size]
                bar.set_postfix(fused=len(group))
                for fold, fresh in fused(group):
                    finish(fold, fresh)
                    bar.update()
        elif workers <= 1:
            for fold in pending:
                bar.set_postfix(test=",".join(fold.test_subjects))
                finish(fold, run_fold(fold))
                bar.update()
        else:
            with ThreadPoolExecutor(workers) as pool:
                running = {pool.submit(run_fold, fold): fold for fold in pending}
                try:
                    for future in as_completed(running):
                        finish(running[future], future.result())
                        bar.update()
                except BaseException:
                    pool.shutdown(wait=True, cancel_futures=True)  # the folds in flight end; no new ones start
                    raise
    if not write:
        return []
    return [row for fold in folds for row in read_fold(folds_dir / f"{fold.name}.csv")]


def read_relabelled(folds_dir: Path, folds: Sequence[str]) -> list[dict[str, str]] | None:
    """The training samples each fold re-labelled (``<fold>.relabelled.json``), or None if no fold
    re-labels."""
    paths = [folds_dir / f"{name}.relabelled.json" for name in folds]
    if not any(p.is_file() for p in paths):
        return None
    return [{**row, "fold": p.name.split(".")[0]} for p in paths if p.is_file() for row in json.loads(p.read_text())]
