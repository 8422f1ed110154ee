"""Train one fold's model and predict with it: the plain supervised loop every protocol shares."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset
from tqdm import tqdm

from mer.data.transforms import Normalization, random_hflip
from mer.training.device import Runtime


def train_model(
    model: nn.Module,
    data: Dataset,
    *,
    loss_fn: nn.Module,
    optimizer: Callable[..., torch.optim.Optimizer],
    epochs: int,
    batch_size: int,
    runtime: Runtime,
    norm: Normalization,
    hflip: float = 0.0,
    seed: int = 0,
    progress: bool = True,
) -> list[float]:
    """Train ``model`` in place for ``epochs`` and return each epoch's mean loss.

    There is no early stopping and no model selection: the held-out subject is evaluated with the
    last epoch's weights, so nothing is ever chosen on it.
    """
    generator = torch.Generator().manual_seed(seed)
    loader = runtime.loader(
        data, batch_size=batch_size, shuffle=True, generator=generator, drop_last=len(data) > batch_size
    )
    net = runtime.prepare(model.train())
    opt = optimizer(model.parameters())
    scaler = torch.amp.GradScaler(enabled=runtime.use_scaler)
    losses = []
    bar = tqdm(range(epochs), desc="epochs", leave=False, disable=not progress)
    for _ in bar:
        total = torch.zeros((), device=runtime.device)
        count = 0
        for clips, labels in loader:
            x = random_hflip(runtime.model_input(clips, norm), hflip, generator)
            y = labels.to(runtime.device, non_blocking=True)
            with runtime.autocast():
                loss = loss_fn(net(x), y)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            total += loss.detach() * len(y)
            count += len(y)
        losses.append(total.item() / max(count, 1))
        bar.set_postfix(loss=f"{losses[-1]:.3f}")
    return losses


@torch.no_grad()
def predict(model: nn.Module, data: Dataset, *, batch_size: int, runtime: Runtime, norm: Normalization) -> np.ndarray:
    """Class probabilities, ``N x C``, in the order of ``data``."""
    net = runtime.prepare(model.eval())
    out = []
    for clips, _ in runtime.loader(data, batch_size=batch_size, shuffle=False):
        with runtime.autocast():
            logits = net(runtime.model_input(clips, norm))
        out.append(logits.float().softmax(dim=1).cpu())
    return torch.cat(out).numpy()
