"""How much faster any rearrangement of a model's training (fused folds included) could make it on
this machine: the achieved GFLOP/s of one training step at the recipe's batch beside the GFLOP/s of a
large matrix product (the best this machine's BLAS does, on the same threads).

    python benchmarks/cpu_ceiling.py model=r3d --threads 2

For models whose config fixes their input (the clip models); the flow-image models take their size
from the dataset.

Fusing N folds does N times the arithmetic in one call; it can be faster than N calls only where a
call leaves the cores idle (launch overhead, small kernels). Where a step already runs near the
matrix product's rate, the ratio printed bounds any fused speed-up.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from torch.utils.flop_counter import FlopCounterMode

import mer.train  # noqa: F401  (registers the config schema)
from mer.compose import CONFIGS


def rate(work, flops: float, seconds: float = 3.0) -> float:
    """GFLOP/s of ``work`` (``flops`` a call), timed over about ``seconds`` after a warm-up."""
    for _ in range(3):
        work()
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        work()
        calls += 1
    return flops * calls / (time.perf_counter() - start) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("overrides", nargs="*", default=["model=r3d"], help="config overrides (default model=r3d)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--classes", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose("config", overrides=args.overrides)
    model = instantiate(cfg.model, num_classes=args.classes).train()
    optimizer = instantiate(cfg.trainer.optimizer)(model.parameters())
    frames = cfg.input.num_frames if cfg.input.kind in ("clips", "flow_clip") else 1
    x = torch.randn(cfg.trainer.batch_size, 3, frames, *cfg.input.size)
    y = torch.arange(len(x)) % args.classes

    def step() -> None:
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()

    with FlopCounterMode(display=False) as counter:
        step()
    step_flops = counter.get_total_flops()
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    achieved = rate(step, step_flops)
    ceiling = rate(lambda: a @ b, 2 * 2048**3)
    print(
        json.dumps(
            {
                "model": cfg.model._target_.rsplit(".", 1)[-1],
                "batch": len(x),
                "input": list(x.shape[1:]),
                "threads": args.threads,
                "gflop_a_step": round(step_flops / 1e9, 3),
                "step_gflops": round(achieved, 1),
                "matmul_gflops": round(ceiling, 1),
                "most_any_fusion_could_gain": round(ceiling / achieved, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
