"""``python -m mer.train``: train and evaluate a model under a subject-independent protocol.

Writes into Hydra's run directory: ``folds/<fold>.csv`` (resumable), ``predictions.csv``,
``results.json``, ``report.md`` and ``config_resolved.yaml``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

import hydra
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import Subset

from mer.atomic import write_json_atomic, write_text_atomic
from mer.checkpoint import save_checkpoint
from mer.config import register
from mer.data.annotations import au_set, au_sort_key
from mer.data.build import build_dataset, face_stage
from mer.data.transforms import Augment, Normalization
from mer.evaluation.loso import Fold, check_resumable, fold_seed, make_folds, read_relabelled, run_folds
from mer.evaluation.report import finish_run
from mer.methods.model import with_methods
from mer.provenance import data_fingerprint, git_commit
from mer.seeding import seed_everything
from mer.training import distributed
from mer.training.device import resolve_runtime
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
)


def _fingerprint(cfg: DictConfig) -> dict:
    flat = OmegaConf.to_container(cfg, resolve=True)
    for dotted in _RESUME_INDEPENDENT:
        *parents, leaf = dotted.split(".")
        node = flat
        for p in parents:
            node = node.get(p, {})
        node.pop(leaf, None)
    return flat


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


def _relabel_row(sample, old: str, new: str) -> dict[str, str]:
    return {"id": sample.id, "clip": sample.clip, "subject": sample.subject, "from": old, "to": new}


def _protocol_description(cfg: DictConfig, num_subjects: int) -> str:
    if cfg.evaluation.protocol == "loso":
        return f"leave-one-subject-out over {num_subjects} subjects"
    return f"{cfg.evaluation.num_folds}-fold subject-independent cross-validation over {num_subjects} subjects"


def run(cfg: DictConfig, run_dir: Path, folds_dir: Path | None = None) -> dict:
    """Run the configured protocol in ``run_dir`` (resuming finished folds) and write its outputs.

    With ``evaluation.fold=K`` only fold K runs, into ``folds_dir`` (shared by the jobs of a
    multirun), and the pooled outputs are left to ``python -m mer.report --gather``.
    """
    started = time.time()
    if cfg.evaluation.selection != "last_epoch":
        raise ValueError(f"evaluation.selection={cfg.evaluation.selection!r}: only 'last_epoch' is implemented")
    run_dir.mkdir(parents=True, exist_ok=True)
    trainer = cfg.trainer
    workers = _fold_workers(trainer)
    ddp_device = distributed.init_from_env()  # under torchrun: this process's GPU
    writer = distributed.rank() == 0  # one process of a DDP group writes; the others only train
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
    norm = Normalization(**OmegaConf.to_container(cfg.dataset.normalization))
    classes = list(cfg.dataset.classes.names)
    samples = instantiate(cfg.dataset.samples, _convert_="all")
    located = face_stage(cfg.dataset, trainer.clip_cache_dir).locate_all(samples)  # no face: error, or left out
    kept = {id(s) for s in located}
    no_face = [s.id for s in samples if id(s) not in kept]
    samples = located
    data = build_dataset(samples, cfg.dataset, cache=trainer.clip_cache, cache_dir=trainer.clip_cache_dir)
    subjects = [s.subject for s in samples]
    all_folds = make_folds(
        subjects, protocol=cfg.evaluation.protocol, num_folds=cfg.evaluation.num_folds, seed=cfg.seed
    )
    folds = all_folds[: cfg.evaluation.max_folds] if cfg.evaluation.max_folds else all_folds
    if cfg.evaluation.fold is not None:
        if not 0 <= cfg.evaluation.fold < len(all_folds):
            raise ValueError(f"evaluation.fold={cfg.evaluation.fold}: there are folds 0..{len(all_folds) - 1}")
        folds = [all_folds[cfg.evaluation.fold]]
    log.info(
        "%d samples, %d subjects, %d of %d folds on %s",
        len(samples),
        len(set(subjects)),
        len(folds),
        len(all_folds),
        runtime.device,
    )
    folds_dir = folds_dir or run_dir / "folds"
    if writer:
        check_resumable(folds_dir, _fingerprint(cfg))  # before anything is written: a refused resume changes nothing
        write_text_atomic(run_dir / "config_resolved.yaml", OmegaConf.to_yaml(cfg, resolve=True))
    plan = {
        "folds": [f.name for f in all_folds],
        "fold_seeds": {f.name: fold_seed(cfg.seed, f) for f in all_folds},
        "protocol_description": _protocol_description(cfg, len(set(subjects))),
        "data_fingerprint": data_fingerprint(samples),
        "git_commit": git_commit(),  # the code that trains, not whatever is checked out when it ends
        "left_out_no_face": no_face,
    }
    if writer:
        write_json_atomic(folds_dir / "plan.json", plan)

    if trainer.final_fit and cfg.methods.dan.enabled:
        raise ValueError("trainer.final_fit with methods.dan: mer.predict cannot rebuild DAN's heads yet")
    init_lock = threading.Lock()
    methods = OmegaConf.to_container(cfg.methods, resolve=True)
    flow_channels = [0] if cfg.dataset.kind in FLOW_KINDS else []  # flow inputs: channel 0 is the horizontal flow
    if methods["eac"]["negate_channels"] is None:
        methods["eac"]["negate_channels"] = flow_channels
    augment = Augment(hflip=trainer.hflip, negate_channels=flow_channels, **trainer.augment)

    def fit(train: list[int], seed: int) -> torch.nn.Module:
        """A fresh model trained on the samples ``train`` with the configured recipe."""
        labels = [samples[i].label for i in train]
        with init_lock:  # weights are drawn from torch's global generator: one fold at a time
            seed_everything(seed)
            model = with_methods(
                instantiate(cfg.model, num_classes=len(classes)),
                methods,
                num_classes=len(classes),
                labels=labels,
                aus=[samples[i].aus for i in train],
                norm=norm,
            )
        if workers > 1 and not hasattr(model, "generator"):
            raise ValueError(
                f"trainer.fold_workers={workers} needs a model that draws its dropout from its own generator "
                "(STSTNet); set trainer.fold_workers=1 or run folds as a multirun (README)"
            )
        counts = [labels.count(c) for c in range(len(classes))]
        train_model(
            model,
            Subset(data, train),
            labels=labels,
            num_classes=len(classes),
            schedule=instantiate(cfg.schedule),
            loss_fn=instantiate(cfg.loss)(class_counts=counts),
            optimizer=instantiate(trainer.optimizer),
            epochs=trainer.epochs,
            batch_size=trainer.batch_size,
            runtime=runtime,
            norm=norm,
            augment=augment,
            mixup=trainer.mixup,
            seed=seed,
            progress=trainer.progress and workers == 1,
            in_memory=trainer.in_memory,
        )
        return model

    def run_fold(fold: Fold) -> list[dict[str, object]]:
        test = [i for i, s in enumerate(samples) if s.subject in fold.test_subjects]
        train = [i for i, s in enumerate(samples) if s.subject not in fold.test_subjects]
        model = fit(train, fold_seed(cfg.seed, fold))
        evaluate = {"batch_size": trainer.eval_batch_size, "runtime": runtime, "norm": norm}
        probs = predict(model, Subset(data, test), **evaluate)
        rows = [
            {
                "id": samples[i].id,
                "clip": samples[i].clip,
                "subject": samples[i].subject,
                "dataset": samples[i].dataset,
                "label": classes[samples[i].label],
                "prediction": classes[int(p.argmax())],
                "fold": fold.name,
            }
            for i, p in zip(test, probs, strict=True)
        ]
        if getattr(model, "au", None) is not None:  # the AU head's calls, scored in the report
            au_probs = predict(model, Subset(data, test), output=model.au_probabilities, **evaluate)
            for row, i, p in zip(rows, test, au_probs, strict=True):
                row["aus"] = "+".join(sorted(au_set(samples[i].aus), key=au_sort_key))
                row["aus_predicted"] = "+".join(a for a, v in zip(model.au_vocabulary, p, strict=True) if v >= 0.5)
        if getattr(model, "confidence", None) is not None and writer:
            relabelled = [
                _relabel_row(samples[train[k]], classes[a], classes[b])
                for k, (a, b) in sorted(model.confidence.relabelled().items())
            ]
            write_json_atomic(folds_dir / f"{fold.name}.relabelled.json", relabelled)
        return rows

    rows = run_folds(folds, run_fold, folds_dir, progress=trainer.progress and writer, workers=workers, write=writer)
    if cfg.evaluation.fold is not None:
        log.info(
            "%s written to %s; pool all folds with: python -m mer.report --gather %s",
            folds[0].name,
            folds_dir,
            folds_dir.parent,
        )
        return {"fold": folds[0].name, "num_samples": len(rows)}
    if not writer:
        if trainer.final_fit:
            fit(list(range(len(samples))), cfg.seed)  # a replica of the writer's final model
        return {}
    results = finish_run(
        OmegaConf.to_container(cfg, resolve=True),
        plan,
        rows,
        run_dir,
        seconds=time.time() - started,
        relabelled=read_relabelled(folds_dir, [f.name for f in folds]),
    )
    if trainer.final_fit:
        log.info("final fit: one model on all %d samples of all subjects, for use on new footage", len(samples))
        model = fit(list(range(len(samples))), cfg.seed)
        predictor = getattr(model, "backbone", model)  # the methods shape training; the backbone predicts
        save_checkpoint(run_dir / "final_model.pt", predictor, OmegaConf.to_container(cfg, resolve=True), classes)
    return results


register()


@hydra.main(config_path="../configs", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    hydra_cfg = HydraConfig.get()
    if int(os.environ.get("RANK", "0")) > 0:
        logging.getLogger().setLevel(logging.WARNING)  # torchrun helper processes: the writer logs
    folds_dir = None
    if cfg.evaluation.fold is not None and hydra_cfg.mode == RunMode.MULTIRUN:
        folds_dir = Path(hydra_cfg.sweep.dir) / "folds"  # every job of the sweep adds its fold here
    run(cfg, Path(hydra_cfg.runtime.output_dir), folds_dir)


if __name__ == "__main__":
    main()
