"""One experiment: the configured samples and their folds, each fold's fit and evaluation, the outputs.

``python -m mer.train`` is this module's :func:`run` under Hydra. Writes into the run directory:
``folds/<fold>.csv`` (resumable), ``folds/<fold>.curve.csv`` (loss and training accuracy per epoch),
``predictions.csv``, ``results.json``, ``report.md``, ``curves.png`` and ``config_resolved.yaml``.
"""

from __future__ import annotations

import copy
import fcntl
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import torch
from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict, read_write
from torch.utils.data import Dataset, Subset

from mer.atomic import write_json_atomic, write_text_atomic
from mer.checkpoint import save_checkpoint
from mer.compose import load_samples
from mer.config_check import ConfigError, check_input
from mer.data.annotations import Sample, au_set, au_sort_key
from mer.data.build import build_dataset, decodable, face_stage
from mer.data.transforms import Augment, Normalization
from mer.evaluation.curves import CurveLog, read_curves
from mer.evaluation.loso import (
    Fold,
    check_resumable,
    fold_seed,
    make_folds,
    protocol_description,
    read_relabelled,
    run_folds,
)
from mer.evaluation.report import finish_run
from mer.methods.model import NAMES as METHOD_NAMES
from mer.methods.model import with_methods
from mer.provenance import data_fingerprint, git_commit
from mer.seeding import seed_everything
from mer.training import distributed
from mer.training.device import Runtime, resolve_runtime
from mer.training.fused import FoldJob, fold_capacity, train_fused, why_not_fused
from mer.training.trainer import predict, train_model

log = logging.getLogger(__name__)

#: Inputs whose channel 0 is horizontal flow, negated when a clip is mirrored.
FLOW_KINDS = ("flow", "flow_clip", "images")

#: Keys that do not change any fold's predictions, so a resumed run may differ in them.
_RESUME_INDEPENDENT = (
    "trainer.final_fit",
    "evaluation.max_folds",
    "evaluation.fold",
    "trainer.progress",
    "trainer.num_workers",
    "trainer.num_threads",
    "trainer.prefetch_factor",
    "trainer.fold_workers",
    "trainer.clip_cache",
    "trainer.clip_cache_dir",
    "trainer.tensorboard",
)


#: Keys whose values are paths read from the working directory (``dataset.root``, ``samm_annotations``,
#: ``clip_cache_dir``, a mapping of test sheets): compared resolved, so ``data/``, ``data`` and
#: ``../here/data`` from another directory are one setting. Paths under a root (``image_dir``) are not.
_PATH_KEY = re.compile(r"(\w+_)?(root|annotations)|\w*cache_dir|curves_dir|test_sheets|au_sheets")


def _resolved_paths(node: object, is_path: bool = False) -> object:
    if isinstance(node, dict):
        return {k: _resolved_paths(v, is_path or bool(_PATH_KEY.fullmatch(str(k)))) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolved_paths(v, is_path) for v in node]
    return str(Path(node).expanduser().resolve()) if is_path and isinstance(node, str) else node


def _fingerprint(cfg: DictConfig) -> dict:
    """What a resumed run must share with the run that wrote the folds: the resolved configuration,
    paths resolved, less the keys that change no fold's predictions."""
    flat = _resolved_paths(OmegaConf.to_container(cfg, resolve=True))
    for dotted in _RESUME_INDEPENDENT:
        *parents, leaf = dotted.split(".")
        node = flat
        for p in parents:
            node = node.get(p, {})
        node.pop(leaf, None)
    return flat


#: The lock file of a run directory: held (``flock``) by the run writing into it.
RUN_LOCK = ".run.lock"


def claim_run_dir(run_dir: Path) -> IO[bytes]:
    """Hold ``run_dir`` for this process until the returned handle is closed (or the process ends).

    The lock file is opened without truncation, so a refused claim writes nothing; the holder's
    pid, written once the lock is held, names it in the refusal.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    handle = os.fdopen(os.open(run_dir / RUN_LOCK, os.O_RDWR | os.O_CREAT, 0o644), "r+b")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = handle.read().decode(errors="replace").strip() or "unknown"
        handle.close()
        raise ConfigError(
            f"{run_dir} is being written by another run (pid {holder}); wait for it or give another hydra.run.dir"
        ) from None
    handle.truncate(0)
    handle.write(f"{os.getpid()}\n".encode())
    handle.flush()
    return handle


class RunGuard(Callback):
    """``python -m mer.train``'s checks of its run directory, made before Hydra writes into it.

    Hydra writes ``.hydra/*.yaml`` and opens ``train.log`` before the task runs, so a check in
    :func:`run` comes too late to leave a refused run's directory untouched. Hydra calls
    ``on_run_start`` before any of that (``hydra.callbacks.run_guard`` in ``configs/config.yaml``):
    a resume with changed settings (:func:`~mer.evaluation.loso.check_resumable`) and a directory
    another run holds (:func:`claim_run_dir`) are refused there in one line, the directory
    byte-identical. The lock is held until the run ends. A multirun's jobs are each locked in
    ``on_job_start`` (Hydra has written the job's ``.hydra`` files by then; its ``folds/``, which the
    sweep's jobs share, is not locked); :func:`run` checks the resume again for them and for callers
    without Hydra.
    """

    def __init__(self) -> None:
        self._lock: IO[bytes] | None = None

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        HydraConfig.instance().set_config(config)  # hydra.run.dir may read ${hydra:...}, as run_job resolves it next
        run_dir = Path(os.path.abspath(str(config.hydra.run.dir)))  # the same cached ${now:} as Hydra's
        try:
            if (run_dir / "folds" / "config.json").is_file():  # with a stamp in place the check only reads
                task = copy.deepcopy(config)
                with read_write(task), open_dict(task):
                    del task["hydra"]
                check_resumable(run_dir / "folds", _fingerprint(task))
            if int(os.environ.get("RANK", "0")) == 0:  # torchrun's other processes join the writer's run
                self._lock = claim_run_dir(run_dir)
        except ConfigError as error:
            sys.exit(f"mer.train: {error}")

    def on_run_end(self, config: DictConfig, **kwargs: Any) -> None:
        if self._lock is not None:
            self._lock.close()

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        if config.hydra.mode != RunMode.MULTIRUN or int(os.environ.get("RANK", "0")) != 0:
            return  # a single run is held since on_run_start
        try:
            self._lock = claim_run_dir(Path(config.hydra.runtime.output_dir))
        except ConfigError as error:
            sys.exit(f"mer.train: {error}")

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        if config.hydra.mode == RunMode.MULTIRUN and self._lock is not None:
            self._lock.close()
            self._lock = None


def _fold_workers(trainer: DictConfig) -> int:
    """How many folds train at once: ``null`` means one per CPU core for in-memory CPU training."""
    if trainer.fold_workers is not None:
        workers = int(trainer.fold_workers)
    elif trainer.in_memory and (trainer.device == "cpu" or trainer.device == "auto" and not torch.cuda.is_available()):
        workers = os.cpu_count() or 1
    else:
        workers = 1
    if workers > 1 and not trainer.in_memory:
        raise ValueError(f"trainer.fold_workers={workers} needs trainer.in_memory=true")
    return max(workers, 1)


@dataclass
class Experiment:
    """The configured data, recipe and runtime, shared by every fold of a run."""

    cfg: DictConfig
    samples: list[Sample]
    data: Dataset
    classes: list[str]
    runtime: Runtime
    norm: Normalization
    augment: Augment
    methods: dict
    workers: int
    writer: bool  # one process of a DDP group writes; the others only train
    left_out_no_face: list[str]
    sample_notes: list[str]  # what the reader corrected or skipped, sheet line by sheet line
    _init_lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_config(cls, cfg: DictConfig) -> Experiment:
        """Samples read and checked (every frame the input is made from decoded, faces located: before
        any training), the dataset built, the runtime set."""
        check_input(cfg)
        trainer = cfg.trainer
        workers = _fold_workers(trainer)
        ddp_device = distributed.init_from_env()  # under torchrun: this process's GPU
        if distributed.active() and workers > 1:
            raise ValueError("under torchrun, folds run one at a time: set trainer.fold_workers=1")
        runtime = resolve_runtime(
            str(ddp_device) if ddp_device is not None else trainer.device,
            amp=trainer.amp,
            num_threads=trainer.num_threads or max(1, (os.cpu_count() or 1) // workers),
            channels_last=trainer.channels_last,
            compile=trainer.compile,
            num_workers=trainer.num_workers,
            prefetch_factor=trainer.prefetch_factor,
        )
        samples = load_samples(cfg)
        notes = list(getattr(samples, "notes", []))
        on_bad_row = cfg.dataset.samples.get("on_bad_row")
        readable = decodable(samples, cfg.dataset, on_bad_row=on_bad_row, notes=notes)  # each frame read decodes
        located = face_stage(cfg.dataset, trainer.clip_cache_dir).locate_all(readable)  # no face: error or left out
        kept = {id(s) for s in located}
        methods = OmegaConf.to_container(cfg.methods, resolve=True)
        kind = cfg.dataset.kind if cfg.dataset.kind != "features" else cfg.dataset.input_kind
        flow_channels = [0] if kind in FLOW_KINDS else []  # flow inputs: channel 0 is horizontal flow
        if methods["eac"]["negate_channels"] is None:
            methods["eac"]["negate_channels"] = flow_channels
        return cls(
            cfg=cfg,
            samples=located,
            data=build_dataset(located, cfg.dataset, cache=trainer.clip_cache, cache_dir=trainer.clip_cache_dir),
            classes=list(cfg.dataset.classes.names),
            runtime=runtime,
            norm=Normalization(**OmegaConf.to_container(cfg.dataset.normalization)),
            augment=Augment(hflip=trainer.hflip, negate_channels=flow_channels, **trainer.augment),
            methods=methods,
            workers=workers,
            writer=distributed.rank() == 0,
            left_out_no_face=[s.id for s in readable if id(s) not in kept],
            sample_notes=notes,
        )

    def new_model(self, train: Sequence[int], seed: int) -> torch.nn.Module:
        """A fresh model for the samples ``train``, its weights drawn with ``seed``."""
        num_classes = len(self.classes)
        with self._init_lock:  # weights are drawn from torch's global generator: one fold at a time
            seed_everything(seed)
            return with_methods(
                instantiate(self.cfg.model, num_classes=num_classes),
                self.methods,
                num_classes=num_classes,
                labels=[self.samples[i].label for i in train],
                aus=[self.samples[i].aus for i in train],
                norm=self.norm,
            )

    def loss(self, train: Sequence[int]) -> torch.nn.Module:
        """The configured loss with the class counts of the samples ``train``."""
        labels = [self.samples[i].label for i in train]
        return instantiate(self.cfg.loss)(class_counts=[labels.count(c) for c in range(len(self.classes))])

    def _recipe(self) -> dict:
        """What every fold's training shares, one at a time or fused."""
        trainer = self.cfg.trainer
        return {
            "num_classes": len(self.classes),
            "schedule": instantiate(self.cfg.schedule),
            "optimizer": instantiate(trainer.optimizer),
            "epochs": trainer.epochs,
            "batch_size": trainer.batch_size,
            "runtime": self.runtime,
            "norm": self.norm,
            "augment": self.augment,
            "in_memory": trainer.in_memory,
            "last_batch": trainer.last_batch,
        }

    def fit(self, train: Sequence[int], seed: int, on_epoch: Callable[[dict], None] | None = None) -> torch.nn.Module:
        """A fresh model trained on the samples ``train`` with the configured recipe."""
        model = self.new_model(train, seed)
        if self.workers > 1 and not hasattr(model, "generator"):
            raise ValueError(
                f"trainer.fold_workers={self.workers} needs a model that draws its dropout from its own generator "
                "(STSTNet); set trainer.fold_workers=1 or run folds as a multirun (docs/guide.md)"
            )
        train_model(
            model,
            Subset(self.data, list(train)),
            labels=[self.samples[i].label for i in train],
            loss_fn=self.loss(train),
            mixup=self.cfg.trainer.mixup,
            seed=seed,
            progress=self.cfg.trainer.progress and self.workers == 1,
            on_epoch=on_epoch,
            **self._recipe(),
        )
        return model

    def fit_fused(
        self, trains: Sequence[Sequence[int]], seeds: Sequence[int], on_epochs: Sequence[Callable[[dict], None] | None]
    ) -> list[torch.nn.Module]:
        """Fresh models trained on each of ``trains`` at once, as one batched model
        (:mod:`mer.training.fused`); model ``k`` has its weights from ``seeds[k]``."""
        jobs = [
            FoldJob(
                model=self.new_model(train, seed),
                data=Subset(self.data, list(train)),
                labels=[self.samples[i].label for i in train],
                loss_fn=self.loss(train),
                seed=seed,
                on_epoch=on_epoch,
            )
            for train, seed, on_epoch in zip(trains, seeds, on_epochs, strict=True)
        ]
        seed_everything(seeds[0])  # the dropout masks of the group
        train_fused(jobs, progress=self.cfg.trainer.progress, **self._recipe())
        return [job.model for job in jobs]

    def fused_group_size(self, pending: int) -> int:
        """How many folds train at once (1: one at a time), said once in the log (``trainer.fuse`` is
        checked by :func:`mer.config_check.check_trainer`)."""
        setting = self.cfg.trainer.fuse
        if setting == 1 or pending <= 1:
            return 1
        if setting == "auto" and self.runtime.device.type == "cpu":
            log.info("folds train one at a time: fused folds are for a GPU (vmap's kernels are slower on a CPU)")
            return 1
        probe = self.new_model([0], 0)
        sample = self.runtime.model_input(self.data[0][0][None], self.norm)[0]
        reason = why_not_fused(
            probe,
            optimizer=instantiate(self.cfg.trainer.optimizer),
            runtime=self.runtime,
            mixup=self.cfg.trainer.mixup,
            sample=sample,
        )
        if reason is not None:
            log.info("folds train one at a time, not fused: %s", reason)
            return 1
        if setting == "auto":
            size = fold_capacity(probe, sample, self.cfg.trainer.batch_size, self.runtime)
        else:
            size = int(setting)
        size = min(size, pending)
        log.info("fused folds: %d of %d pending folds at once on %s", size, pending, self.runtime.device)
        return size

    def run_fused(self, folds: Sequence[Fold], folds_dir: Path) -> list[tuple[Fold, list[dict[str, object]]]]:
        """:meth:`run_fold` for several folds trained at once."""
        tests = [[i for i, s in enumerate(self.samples) if fold.holds_out(s)] for fold in folds]
        trains = [[i for i, s in enumerate(self.samples) if not fold.holds_out(s)] for fold in folds]
        curves = [self._curve(fold, folds_dir) for fold in folds]
        models = self.fit_fused(
            trains, [fold_seed(self.cfg.seed, fold) for fold in folds], [curve.add for curve in curves]
        )
        done = []
        for fold, model, test, curve in zip(folds, models, tests, curves, strict=True):
            rows = self.evaluate(model, fold, test)
            if self.writer:
                curve.write()
            curve.close()
            done.append((fold, rows))
        return done

    def _curve(self, fold: Fold, folds_dir: Path) -> CurveLog:
        return CurveLog(
            folds_dir / f"{fold.name}.curve.csv",
            tensorboard=folds_dir.parent / "tensorboard" / fold.name
            if self.cfg.trainer.tensorboard and self.writer
            else None,
        )

    def evaluate(self, model: torch.nn.Module, fold: Fold, test: Sequence[int]) -> list[dict[str, object]]:
        """One prediction row per held-out sample (with the AU head's calls where the model has one)."""
        evaluate = {"batch_size": self.cfg.trainer.eval_batch_size, "runtime": self.runtime, "norm": self.norm}
        held_out = Subset(self.data, list(test))
        probs = predict(model, held_out, **evaluate)
        rows = [
            {
                "id": self.samples[i].id,
                "clip": self.samples[i].clip,
                "subject": self.samples[i].subject,
                "dataset": _scored_as(self.samples[i]),
                "label": self.classes[self.samples[i].label],
                "prediction": self.classes[int(p.argmax())],
                "fold": fold.name,
            }
            for i, p in zip(test, probs, strict=True)
        ]
        if getattr(model, "au", None) is not None:  # the AU head's calls, scored in the report
            au_probs = predict(model, held_out, output=model.au_probabilities, **evaluate)
            for row, i, p in zip(rows, test, au_probs, strict=True):
                row["aus"] = "+".join(sorted(au_set(self.samples[i].aus), key=au_sort_key))
                row["aus_predicted"] = "+".join(a for a, v in zip(model.au_vocabulary, p, strict=True) if v >= 0.5)
        return rows

    def run_fold(self, fold: Fold, folds_dir: Path) -> list[dict[str, object]]:
        """Train on every sample the fold does not hold out, predict the held-out ones; the fold's
        curve (and re-labelling record) is written beside its predictions."""
        test = [i for i, s in enumerate(self.samples) if fold.holds_out(s)]
        train = [i for i, s in enumerate(self.samples) if not fold.holds_out(s)]
        curve = self._curve(fold, folds_dir)
        model = self.fit(train, fold_seed(self.cfg.seed, fold), on_epoch=curve.add)
        rows = self.evaluate(model, fold, test)
        if self.writer:
            curve.write()
            if getattr(model, "confidence", None) is not None:
                relabelled = [
                    _relabel_row(self.samples[train[k]], self.classes[a], self.classes[b])
                    for k, (a, b) in sorted(model.confidence.relabelled().items())
                ]
                write_json_atomic(folds_dir / f"{fold.name}.relabelled.json", relabelled)
        curve.close()
        return rows


def _scored_as(sample: Sample) -> str:
    """The report's table row of a sample: its database, or the published test part it belongs to."""
    return f"{sample.dataset}/{sample.part}" if sample.part else sample.dataset


def _relabel_row(sample: Sample, old: str, new: str) -> dict[str, str]:
    return {"id": sample.id, "clip": sample.clip, "subject": sample.subject, "from": old, "to": new}


def _chosen_folds(cfg: DictConfig, all_folds: list[Fold]) -> list[Fold]:
    if cfg.evaluation.fold is not None:
        if not 0 <= cfg.evaluation.fold < len(all_folds):
            raise ValueError(f"evaluation.fold={cfg.evaluation.fold}: there are folds 0..{len(all_folds) - 1}")
        return [all_folds[cfg.evaluation.fold]]
    return all_folds[: cfg.evaluation.max_folds] if cfg.evaluation.max_folds else all_folds


def run(cfg: DictConfig, run_dir: Path, folds_dir: Path | None = None) -> dict:
    """Run the configured protocol in ``run_dir`` (resuming finished folds) and write its outputs.

    With ``evaluation.fold=K`` only fold K runs, into ``folds_dir`` (shared by the jobs of a
    multirun), and the pooled outputs are left to ``python -m mer.report --gather``.
    """
    started = time.time()
    if cfg.evaluation.selection != "last_epoch":
        raise ValueError(f"evaluation.selection={cfg.evaluation.selection!r}: only 'last_epoch' is implemented")
    if cfg.trainer.final_fit and cfg.methods.dan.enabled:
        raise ConfigError("trainer.final_fit with methods.dan: mer.predict cannot rebuild DAN's heads yet")
    run_dir.mkdir(parents=True, exist_ok=True)
    experiment = Experiment.from_config(cfg)
    if any(experiment.methods[name]["enabled"] for name in METHOD_NAMES):  # what the model cannot take: before any file
        experiment.new_model(range(len(experiment.samples)), cfg.seed)
    samples = experiment.samples
    all_folds = make_folds(samples, protocol=cfg.evaluation.protocol, num_folds=cfg.evaluation.num_folds, seed=cfg.seed)
    folds = _chosen_folds(cfg, all_folds)
    log.info(
        "%d samples, %d subjects, %d of %d folds on %s",
        len(samples),
        len({s.subject for s in samples}),
        len(folds),
        len(all_folds),
        experiment.runtime.device,
    )
    folds_dir = folds_dir or run_dir / "folds"
    writer = experiment.writer
    if writer:
        check_resumable(folds_dir, _fingerprint(cfg))  # before anything is written: a refused resume changes nothing
        write_text_atomic(run_dir / "config_resolved.yaml", OmegaConf.to_yaml(cfg, resolve=True))
    plan = {
        "folds": [f.name for f in all_folds],
        "fold_seeds": {f.name: fold_seed(cfg.seed, f) for f in all_folds},
        "protocol_description": protocol_description(cfg.evaluation.protocol, samples, all_folds),
        "data_fingerprint": data_fingerprint(samples),
        "git_commit": git_commit(),  # the code that trains, not whatever is checked out when it ends
        "left_out_no_face": experiment.left_out_no_face,
        "sample_notes": experiment.sample_notes,
    }
    if writer:
        write_json_atomic(folds_dir / "plan.json", plan)
    progress = cfg.trainer.progress and writer
    pending = [f for f in folds if not (folds_dir / f"{f.name}.csv").is_file()]
    rows = run_folds(
        folds,
        lambda fold: experiment.run_fold(fold, folds_dir),
        folds_dir,
        progress=progress,
        workers=experiment.workers,
        write=writer,
        fused=lambda group: experiment.run_fused(group, folds_dir),
        group_size=experiment.fused_group_size(len(pending)),
    )
    if cfg.evaluation.fold is not None:
        log.info(
            "%s written to %s; pool all folds with: python -m mer.report --gather %s",
            folds[0].name,
            folds_dir,
            folds_dir.parent,
        )
        return {"fold": folds[0].name, "num_samples": len(rows)}
    everyone = list(range(len(samples)))
    if not writer:
        if cfg.trainer.final_fit:
            experiment.fit(everyone, cfg.seed)  # a replica of the writer's final model
        return {}
    if cfg.trainer.final_fit:  # before the outputs: results.json, written last, says every artefact is there
        log.info("final fit: one model on all %d samples of all subjects, for use on new footage", len(samples))
        model = experiment.fit(everyone, cfg.seed)
        predictor = getattr(model, "backbone", model)  # the methods shape training; the backbone predicts
        save_checkpoint(
            run_dir / "final_model.pt", predictor, OmegaConf.to_container(cfg, resolve=True), experiment.classes
        )
    results = finish_run(
        OmegaConf.to_container(cfg, resolve=True),
        plan,
        rows,
        run_dir,
        seconds=time.time() - started,
        relabelled=read_relabelled(folds_dir, [f.name for f in folds]),
        curves=read_curves(folds_dir, [f.name for f in folds]),
    )
    return results
