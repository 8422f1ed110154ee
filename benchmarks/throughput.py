"""Throughput of every model and of the clip loader; prints Markdown tables.

    python benchmarks/throughput.py                         # T x H x W = 8 x 112 x 112, batch 8
    python benchmarks/throughput.py --size 32 --batch 16    # the synthetic default's input
    python benchmarks/throughput.py --models r3d x3d --devices cpu cuda

Models: parameters, GFLOPs per clip (forward, counted by torch's FlopCounterMode, 2 FLOPs per
multiply-add), training clips/s (forward, backward, AdamW step) and inference clips/s, on the CPU
and on CUDA when present (bf16 autocast, channels-last-3d). Loader: clips/s for reading only the
sampled frames of the synthetic MP4s, for decoding each whole video first (what many MER scripts
do), and for the disk clip cache once filled.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import av
import numpy as np
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch.utils.flop_counter import FlopCounterMode

import mer.train  # noqa: F401  (registers the config schema)
from mer.compose import CONFIGS
from mer.data.dataset import ClipDataset, resize_frames
from mer.datasets.synthetic import load_samples
from mer.training.device import resolve_runtime

ALL_MODELS = sorted(p.stem for p in (CONFIGS / "model").glob("*.yaml"))


def build(model: str, frames: int, size: int, num_classes: int = 3) -> torch.nn.Module:
    overrides = [f"model={model}", f"dataset.input_size=[{size},{size}]", f"dataset.sampling.num_frames={frames}"]
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose("config", overrides=overrides)
    return instantiate(cfg.model, num_classes=num_classes)


def timed(step, device: torch.device, repeats: int) -> float:
    """Median seconds of ``step`` after one warm-up call."""
    step()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def model_row(name: str, args: argparse.Namespace, device: str) -> dict:
    torch.manual_seed(0)
    runtime = resolve_runtime(device, num_threads=args.threads)
    model = build(name, args.frames, args.size)
    params = sum(p.numel() for p in model.parameters()) / 1e6
    with FlopCounterMode(display=False) as counter:
        model.eval()(torch.randn(1, 3, args.frames, args.size, args.size))
    net = runtime.prepare(model)
    x = torch.randn(args.batch, 3, args.frames, args.size, args.size, device=runtime.device)
    if runtime.channels_last:
        x = x.contiguous(memory_format=torch.channels_last_3d)
    y = torch.randint(0, 3, (args.batch,), device=runtime.device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def train_step() -> None:
        net.train()
        with runtime.autocast():
            loss = torch.nn.functional.cross_entropy(net(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    @torch.no_grad()
    def infer_step() -> None:
        net.eval()
        with runtime.autocast():
            net(x)

    return {
        "model": name,
        "device": runtime.device.type,
        "params_m": params,
        "gflops": counter.get_total_flops() / 1e9,
        "train": args.batch / timed(train_step, runtime.device, args.repeats),
        "infer": args.batch / timed(infer_step, runtime.device, args.repeats),
    }


def whole_video_clip(path: Path, numbers: list[int], size: tuple[int, int]) -> torch.Tensor:
    """The baseline: decode every frame of the video, then keep the sampled ones."""
    with av.open(str(path)) as container:
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    return resize_frames(torch.from_numpy(frames[numbers]), size)


def loader_rows(args: argparse.Namespace) -> list[dict]:
    torch.set_num_threads(args.threads or 1)
    megc3 = OmegaConf.load(Path(__file__).resolve().parents[1] / "configs/dataset/classes/megc3.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        samples = load_samples(
            cache_dir=tmp,
            num_subjects=4,
            clips_per_subject=8,
            seed=0,
            classes=list(megc3.names),
            class_map=OmegaConf.to_container(megc3.map),
        )
        settings = dict(strategy="uniform", num_frames=args.frames, size=(args.size, args.size), cache_dir=tmp)
        sampled = ClipDataset(samples, cache="none", **settings)
        disk = ClipDataset(samples, cache="disk", **settings)
        for i in range(len(disk)):
            disk[i]  # fill the cache
        disk = ClipDataset(samples, cache="disk", **settings)  # a fresh reader, as a later epoch or run
        n = len(samples)

        def rate(read) -> float:
            start = time.perf_counter()
            for i in range(n):
                read(i)
            return n / (time.perf_counter() - start)

        whole = rate(lambda i: whole_video_clip(samples[i].path, sampled.frame_numbers(i), sampled.size))
        key_frames = rate(lambda i: sampled[i])
        cached = rate(lambda i: disk[i])
        frames = np.mean([_video_length(s.path) for s in samples])
    return [
        {"loader": f"whole-video decode, then sample (PyAV; {frames:.0f} frames a clip)", "clips_s": whole, "x": 1.0},
        {"loader": "key-frame read: only the sampled frames (decord)", "clips_s": key_frames, "x": key_frames / whole},
        {"loader": "disk clip cache (memory-mapped, filled)", "clips_s": cached, "x": cached / whole},
    ]


def _video_length(path: Path) -> int:
    with av.open(str(path)) as container:
        return container.streams.video[0].frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=ALL_MODELS, choices=ALL_MODELS)
    parser.add_argument("--devices", nargs="+", default=["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=112)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all cores)")
    parser.add_argument("--skip-loader", action="store_true")
    args = parser.parse_args()

    device_name = torch.cuda.get_device_name() if "cuda" in args.devices else "CPU"
    print(
        f"T x H x W = {args.frames} x {args.size} x {args.size}, batch {args.batch}, "
        f"{torch.get_num_threads()} CPU threads, {device_name}\n"
    )
    print("| model | device | params (M) | GFLOPs/clip | train clips/s | inference clips/s |")
    print("|---|---|---|---|---|---|")
    for device in args.devices:
        for name in args.models:
            r = model_row(name, args, device)
            print(
                f"| {r['model']} | {r['device']} | {r['params_m']:.2f} | {r['gflops']:.2f} | {r['train']:.1f} | "
                f"{r['infer']:.1f} |",
                flush=True,
            )
    if not args.skip_loader:
        print("\n| loader | clips/s | vs whole-video decode |\n|---|---|---|")
        for r in loader_rows(args):
            print(f"| {r['loader']} | {r['clips_s']:.1f} | {r['x']:.1f}x |")


if __name__ == "__main__":
    main()
