"""Time our STSTNet LOSO against a plain per-fold PyTorch training loop of the same recipe.

    python benchmarks/small_model_loso.py --root ../shared/data/megc2019_composite --epochs 100

Both train STSTNet with Adam (lr 5e-5), batch 256, cross-entropy, the same epochs, one fresh model
a fold, evaluated with its last epoch's weights on the held-out subject, on this machine. The plain
loop is what a researcher writes first: a ``TensorDataset`` and a ``DataLoader``, the layers as
plain ``torch.nn`` calls, torch's default threads, one fold after another. Ours is
``python -m mer.train dataset=megc2019_flow model=ststnet`` (the set as one tensor, no DataLoader,
the stem as one compiled kernel, folds side by side in threads). Prints the wall times, their ratio and each
loop's pooled UF1/UAR.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader, TensorDataset

from mer.data.dataset import ImageDataset
from mer.datasets.megc2019 import load_flow_samples
from mer.evaluation.metrics import score
from mer.models import ststnet_kernel
from mer.models.ststnet import STSTNet

CLASSES = ["negative", "positive", "surprise"]


def plain_loso(root: Path, epochs: int, seed: int, max_folds: int | None) -> dict:
    samples = load_flow_samples(root=root, classes=CLASSES)
    images = ImageDataset(samples, size=(28, 28))
    x = torch.stack([images[i][0] for i in range(len(images))])[:, 0].permute(0, 3, 1, 2).float() / 255
    y = torch.tensor([s.label for s in samples])
    subjects = sorted({s.subject for s in samples})[:max_folds]
    labels, predictions = [], []
    for fold, subject in enumerate(subjects):
        test = torch.tensor([s.subject == subject for s in samples])
        torch.manual_seed(seed + fold)
        model = STSTNet(num_classes=len(CLASSES), fused=False)
        optimizer = torch.optim.Adam(model.parameters(), lr=5e-5)
        loader = DataLoader(TensorDataset(x[~test], y[~test]), batch_size=256, shuffle=True)
        model.train()
        for _ in range(epochs):
            for xb, yb in loader:
                loss = torch.nn.functional.cross_entropy(model(xb), yb)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        model.eval()
        with torch.no_grad():
            predictions += model(x[test]).argmax(1).tolist()
        labels += y[test].tolist()
    return score(labels, predictions, CLASSES)


def our_loso(root: Path, epochs: int, seed: int, max_folds: int | None, run_dir: Path) -> dict:
    command = [
        sys.executable,
        "-m",
        "mer.train",
        "dataset=megc2019_flow",
        "model=ststnet",
        f"dataset.root={root}",
        f"trainer.epochs={epochs}",
        f"seed={seed}",
        "trainer.progress=false",
        f"hydra.run.dir={run_dir}",
    ]
    if max_folds:
        command.append(f"evaluation.max_folds={max_folds}")
    subprocess.run(command, check=True, capture_output=True)
    return json.loads((run_dir / "results.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=Path("../shared/data/megc2019_composite"))
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-folds", type=int, default=None, help="only the first N subjects (a quick look)")
    args = parser.parse_args()
    root = args.root.resolve()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, run in (
            ("ours (mer.train)", lambda: our_loso(root, args.epochs, args.seed, args.max_folds, Path(tmp) / "run")),
            ("plain per-fold loop", lambda: plain_loso(root, args.epochs, args.seed, args.max_folds)),
        ):
            started = time.perf_counter()
            result = run()
            rows.append((name, time.perf_counter() - started, result))
    folds = args.max_folds or "all"
    print(f"STSTNet LOSO on {root.name}, {args.epochs} epochs, {folds} folds, {torch.get_num_threads()} CPU threads")
    stem = "the compiled kernel" if ststnet_kernel.load() else "torch ops (no C compiler found)"
    print(f"our STSTNet stem: {stem}")
    print(f"{'loop':22s} {'wall s':>8s} {'UF1':>7s} {'UAR':>7s}")
    for name, seconds, result in rows:
        print(f"{name:22s} {seconds:8.1f} {result['uf1']:7.4f} {result['uar']:7.4f}")
    print(f"plain / ours wall time: {rows[1][1] / rows[0][1]:.2f}x")


if __name__ == "__main__":
    main()
