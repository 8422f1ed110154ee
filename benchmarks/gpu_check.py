"""The GPU check: every model a few epochs on the device, one fold at a time and fused, then full
fused LOSO runs of the small models at their recipes. Prints one JSON line a measurement.

    python benchmarks/gpu_check.py --composite ../shared/data/megc2019_composite \
        --clips ../shared/data/casme2_subset --out gpu_check.jsonl

``alone`` rows train fold 0 by itself (``trainer.fuse=1``, as before fusion); ``fused`` rows train
``--fold-limit`` folds (default: all, or as many as fit) as one batched model. Each gives seconds an
epoch, training samples a second, the model's training FLOPs a sample (forward and backward, counted
by ``torch.utils.flop_counter``) and the achieved TFLOP/s, beside the device's dense bf16 peak where
known. ``loso`` rows are whole runs (``mer.experiment.run``): wall seconds, UF1, UAR. ``estimate``
rows give the leaderboard's time on this device from the fused figures. Every stage checks the
``--budget`` seconds left and says what it skipped. On a CPU, tiny settings make it a test
(tests/test_gpu_check.py).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig
from torch.utils.flop_counter import FlopCounterMode

import mer.train  # noqa: F401  (registers the config schema)
from mer.compose import CONFIGS
from mer.evaluation.loso import fold_seed, make_folds
from mer.experiment import Experiment, run

FLOW_MODELS = ("ststnet", "rcn", "offapexnet", "dual_inception", "facetoponet", "htnet", "ensemble_flow")
CLIP_MODELS = ("r3d", "transformer")
#: dense bf16 tensor-core TFLOP/s by device name (NVIDIA's data sheets; SXM parts)
PEAKS = {"H200": 989.0, "H100": 989.0, "A100": 312.0}


def config(overrides: Sequence[str]) -> DictConfig:
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        return compose("config", overrides=[*overrides, "trainer.progress=false", "trainer.tensorboard=false"])


def data_overrides(
    model: str, composite: Path | None, clips: Path | None, features: str | None = None
) -> list[str] | None:
    """The dataset a model is checked on: the composite's flow images, or for the clip models a
    features folder (``DIR:CLASSES``, from data_tools/export_features.py) or the real CASME II clips."""
    if model in CLIP_MODELS:
        if features is not None:
            root, classes = features.rsplit(":", 1)
            return ["dataset=features", f"dataset.root={root}", f"dataset/classes={classes}"]
        if clips is None:
            return None
        return [
            "dataset=csv",
            f"dataset.root={clips / 'Cropped'}",
            f"dataset.annotations={clips / 'annotations.csv'}",
            "dataset/classes=casme2_5",
        ]
    return None if composite is None else ["dataset=megc2019_flow", f"dataset.root={composite}"]


def peak_tflops(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((peak for key, peak in PEAKS.items() if key in name), None)


def flops_a_sample(experiment: Experiment, train: Sequence[int]) -> float:
    """Training FLOPs of one sample: three times its forward pass (the backward pass costs about
    twice the forward), counted in evaluation mode, where every model runs plain torch ops that the
    counter sees (STSTNet's training stem is a compiled kernel it cannot)."""
    model = experiment.runtime.prepare(experiment.new_model(train, 0).eval())
    size = min(experiment.cfg.trainer.batch_size, len(train))
    clips = torch.stack([experiment.data[i][0] for i in train[:size]])
    x = experiment.runtime.model_input(clips, experiment.norm)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad(), experiment.runtime.autocast():
        model(x)
    return 3 * counter.get_total_flops() / size


def timed_epochs(fit) -> float:
    """Seconds an epoch after the first (compilation, cuDNN autotuning, caches)."""
    stamps: list[float] = []
    fit(lambda record: stamps.append(time.perf_counter()))
    _sync()
    return (stamps[-1] - stamps[0]) / (len(stamps) - 1)


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def measure(model: str, overrides: list[str], *, epochs: int, fold_limit: int | None, device: str) -> list[dict]:
    """Rows for one model: fold 0 alone, then its folds fused (where the model fuses)."""
    cfg = config([f"model={model}", *overrides, f"trainer.epochs={epochs}", f"trainer.device={device}"])
    experiment = Experiment.from_config(cfg)
    folds = make_folds(experiment.samples, protocol="loso")
    trains = [[i for i, s in enumerate(experiment.samples) if not f.holds_out(s)] for f in folds]
    seeds = [fold_seed(cfg.seed, f) for f in folds]
    flops = flops_a_sample(experiment, trains[0])
    peak = peak_tflops(experiment.runtime.device)
    base = {"model": model, "device": str(experiment.runtime.device), "recipe_epochs": _recipe_epochs(model)}

    def row(mode: str, folds_at_once: int, seconds: float, samples: int) -> dict:
        rate = samples / seconds
        tflops = flops * rate / 1e12
        return {
            **base,
            "mode": mode,
            "folds": folds_at_once,
            "s_per_epoch": round(seconds, 5),
            "samples_per_s": round(rate, 1),
            "gflop_per_sample": round(flops / 1e9, 4),
            "tflops": round(tflops, 3),
            "peak_fraction": round(tflops / peak, 5) if peak else None,
        }

    alone = timed_epochs(lambda on: experiment.fit(trains[0], seeds[0], on_epoch=on))
    rows = [row("alone", 1, alone, len(trains[0]))]
    print(json.dumps(rows[-1]), flush=True)
    group = experiment.fused_group_size(min(len(folds), fold_limit or len(folds)))
    if group > 1:
        picked = range(group)
        seconds = timed_epochs(
            lambda on: experiment.fit_fused(
                [trains[k] for k in picked], [seeds[k] for k in picked], [on] + [None] * (group - 1)
            )
        )
        rows.append(row("fused", group, seconds, sum(len(trains[k]) for k in picked)))
        rows[-1]["all_folds"] = len(folds)
        print(json.dumps(rows[-1]), flush=True)
    return rows


def _recipe_epochs(model: str) -> int:
    return int(config([f"model={model}", "dataset=megc2019_flow", "dataset.root=unused"]).trainer.epochs)


def loso(model: str, overrides: list[str], *, seed: int, device: str, epochs: int | None, out: Path) -> dict:
    """A whole LOSO run as ``python -m mer.train`` runs it (fused where it fuses)."""
    extra = [f"trainer.epochs={epochs}"] if epochs else []
    cfg = config([f"model={model}", *overrides, f"seed={seed}", f"trainer.device={device}", *extra])
    started = time.perf_counter()
    results = run(cfg, out / f"{model}_s{seed}")
    _sync()
    return {
        "model": model,
        "mode": "loso",
        "seed": seed,
        "epochs": int(cfg.trainer.epochs),
        "folds": results["num_folds"],
        "wall_s": round(time.perf_counter() - started, 2),
        "uf1": round(results["uf1"], 4),
        "uar": round(results["uar"], 4),
    }


def estimates(rows: list[dict], seeds: int = 3) -> list[dict]:
    """The leaderboard's time on this device (every fold of ``seeds`` seeds at the recipes), from the
    fused figures (the alone ones where a model does not fuse)."""
    out = []
    for model in sorted({r["model"] for r in rows if r.get("mode") in ("alone", "fused")}):
        fused = [r for r in rows if r.get("model") == model and r["mode"] == "fused"]
        if fused:
            r = fused[-1]
            groups = -(-r["all_folds"] // r["folds"])
            seconds = r["s_per_epoch"] * r["recipe_epochs"] * groups * seeds
        else:
            r = next(r for r in rows if r.get("model") == model and r["mode"] == "alone")
            seconds = r["s_per_epoch"] * r["recipe_epochs"] * 68 * seeds
        out.append({"model": model, "mode": "estimate", "seeds": seeds, "board_minutes": round(seconds / 60, 2)})
    return out


def main(argv: Sequence[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--composite", type=Path, help="the MEGC 2019 composite's flow images")
    parser.add_argument("--clips", type=Path, help="CASME II clips as casme2_subset lays them out")
    parser.add_argument(
        "--features",
        help="DIR:CLASSES, the clip models' inputs exported (data_tools/export_features.py), e.g. "
        "casme2_dev's flow clips with dataset/classes=megc3; instead of --clips",
    )
    parser.add_argument("--models", default=",".join(FLOW_MODELS + CLIP_MODELS))
    parser.add_argument("--epochs", type=int, default=4, help="epochs a measurement (the first warms up)")
    parser.add_argument(
        "--fold-limit",
        default="htnet=8,ensemble_flow=8",
        help="MODEL=N,...: at most N folds of MODEL fused (default for the rest: all that fit); the large "
        "models take seconds each to build on the CPU, and their time scales with the folds anyway",
    )
    parser.add_argument("--loso", default="ststnet,rcn", help="models run as whole fused LOSO runs at their recipe")
    parser.add_argument("--loso-seeds", default="0,1,2")
    parser.add_argument("--loso-epochs", type=int, help="instead of the recipes' epochs (tiny checks)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--budget", type=float, default=480.0, help="seconds; later stages are skipped")
    parser.add_argument("--extra", action="append", default=[], help="more overrides for every run")
    parser.add_argument("--out", type=Path, help="append every row here as JSON lines")
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error("--epochs must be at least 2: the first epoch warms up")
    started = time.perf_counter()
    rows: list[dict] = []
    limits = {k: int(v) for k, v in (item.split("=") for item in filter(None, args.fold_limit.split(",")))}

    def emit(row: dict) -> None:
        rows.append(row)
        if args.out:
            with open(args.out, "a") as f:
                f.write(json.dumps(row) + "\n")

    def left() -> float:
        return args.budget - (time.perf_counter() - started)

    info = {"mode": "device", "torch": torch.__version__, "cpus": os.cpu_count()}
    if torch.cuda.is_available():
        info |= {"gpu": torch.cuda.get_device_name(0), "peak_bf16_tflops": peak_tflops(torch.device("cuda"))}
    print(json.dumps(info), flush=True)
    emit(info)
    for model in args.models.split(","):
        data = data_overrides(model, args.composite, args.clips, args.features)
        if data is None:
            continue
        if left() < 30:
            emit({"model": model, "mode": "skipped", "why": "budget"})
            continue
        try:
            limit = limits.get(model, limits.get("*"))
            for row in measure(model, data + args.extra, epochs=args.epochs, fold_limit=limit, device=args.device):
                emit(row)
        except Exception as error:  # one model's failure is a finding; the check goes on
            emit({"model": model, "mode": "error", "error": f"{type(error).__name__}: {error}"[:400]})
            print(json.dumps(rows[-1]), flush=True)
    for row in estimates(rows):
        emit(row)
        print(json.dumps(row), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for seed in map(int, args.loso_seeds.split(",")):  # seed by seed: a short budget still gets every model
            for model in filter(None, args.loso.split(",")):
                if left() < 20:
                    emit({"model": model, "mode": "skipped", "why": "budget", "seed": seed})
                    continue
                data = data_overrides(model, args.composite, args.clips, args.features)
                row = loso(
                    model, data + args.extra, seed=seed, device=args.device, epochs=args.loso_epochs, out=Path(tmp)
                )
                emit(row)
                print(json.dumps(rows[-1]), flush=True)
    return rows


if __name__ == "__main__":
    main()
