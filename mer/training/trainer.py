"""Train one fold's model and predict with it: the plain supervised loop every protocol shares."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset, WeightedRandomSampler
from tqdm import tqdm

from mer.data.transforms import Augment, Normalization
from mer.losses import ClassAwareLoss, class_weights
from mer.training import distributed
from mer.training.device import Runtime
from mer.training.schedules import WEIGHTING, Standard, class_frequencies, sample_weights

log = logging.getLogger(__name__)


def _reweighted(base: torch.Tensor, counts: Sequence[int], power: float) -> torch.Tensor:
    """The loss's own class weights times class-balanced weights to ``power``, renormalised."""
    weight = base * class_weights(counts, WEIGHTING).to(base) ** power
    return weight / weight.sum() * (torch.as_tensor(counts) > 0).sum()


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
    labels: Sequence[int],
    num_classes: int,
    schedule=None,
    augment: Augment | None = None,
    mixup: float = 0.0,
    seed: int = 0,
    progress: bool = True,
    in_memory: bool = False,
) -> list[float]:
    """Train ``model`` in place for ``epochs`` and return each epoch's mean loss.

    ``labels`` are the training samples' classes, in the order of ``data``; the ``schedule``
    (:mod:`mer.training.schedules`) sets each epoch's class sampling and loss re-weighting from
    their counts, and every epoch's class shares are logged. There is no early stopping and no
    model selection: the held-out subject is evaluated with the last epoch's weights, so nothing is
    ever chosen on it.

    ``in_memory`` puts the whole set on the device as one normalised tensor once and draws batches by
    indexing it, without a DataLoader: for small models on small fixed inputs (flow images), where
    per-batch collation would cost more than the step. Every sample then counts every epoch (the
    last partial batch is kept unless it holds a single sample, which BatchNorm cannot normalise).
    Models with a ``generator`` attribute (STSTNet) draw their dropout masks from the fold's seeded
    generator, so folds trained side by side in threads stay reproducible.

    ``augment`` (default: none) transforms each training batch on the
    device; ``mixup`` > 0 mixes each batch with a shuffled copy of itself, the mixing weight drawn from
    Beta(mixup, mixup) (Zhang et al., ICLR 2018), and mixes the two labels' losses alike.
    """
    schedule = schedule or Standard()
    methods = hasattr(model, "training_loss")  # a backbone wrapped with methods (mer.methods.model)
    data = _Indexed(data)
    counts = np.bincount(np.asarray(labels), minlength=num_classes).tolist()
    base_weight = loss_fn.weight.clone() if isinstance(loss_fn, ClassAwareLoss) else None
    generator = torch.Generator().manual_seed(seed)
    augment = augment or Augment()
    if mixup > 0 and methods:
        raise ValueError("trainer.mixup does not combine with the training methods (methods.*) yet")
    if hasattr(model, "generator"):
        model.generator = generator
    net = runtime.prepare(model.train())
    if in_memory and distributed.active():
        log.info("trainer.in_memory is for one process: under torchrun each process loads its shard")
        in_memory = False
    source = _InMemoryBatches(data, runtime, norm, augment, generator) if in_memory else None
    loaders = {}  # one per sampling power, so persistent workers survive the epochs that share it
    sharded = None
    if distributed.active():
        if methods:
            raise ValueError("the training methods (methods.*) do not run under torchrun yet; run one process")
        net = distributed.replicate(net, runtime.device)
        sharded = distributed.ShardedEpochs(
            lambda epoch: _epoch_order(
                len(labels),
                _sampling_weights(labels, counts, schedule.plan(epoch).sampling_power),
                torch.Generator().manual_seed(seed * 100_003 + epoch),  # the same in every process
            ),
            len(labels),
        )
        loaders[None] = runtime.loader(
            data,
            batch_size=max(1, batch_size // distributed.world_size()),
            shuffle=False,
            sampler=sharded,
            drop_last=len(data) > batch_size,
        )
    opt = optimizer(model.parameters())
    scaler = torch.amp.GradScaler(enabled=runtime.use_scaler)
    losses = []
    bar = tqdm(range(epochs), desc="epochs", leave=False, disable=not progress)
    for epoch in bar:
        plan = schedule.plan(epoch)
        if source is not None:
            batches = source.epoch(batch_size, _sampling_weights(labels, counts, plan.sampling_power))
        elif sharded is not None:
            sharded.set_epoch(epoch)
            batches = _prepared(loaders[None], runtime, norm, augment, generator)
        elif plan.sampling_power not in loaders:
            sampler = None
            weights = _sampling_weights(labels, counts, plan.sampling_power)
            if weights is not None:
                sampler = WeightedRandomSampler(weights, len(labels), replacement=True, generator=generator)
            loaders[plan.sampling_power] = runtime.loader(
                data,
                batch_size=batch_size,
                shuffle=sampler is None,
                sampler=sampler,
                generator=generator,
                drop_last=len(data) > batch_size,
            )
        if source is None and sharded is None:
            batches = _prepared(loaders[plan.sampling_power], runtime, norm, augment, generator)
        if base_weight is not None:
            loss_fn.set_class_weights(_reweighted(base_weight, counts, plan.reweight_power))
        drawn = torch.zeros(num_classes, dtype=torch.long, device=runtime.device)
        total = torch.zeros((), device=runtime.device)
        count = 0
        for x, y, index in batches:
            drawn += torch.bincount(y, minlength=num_classes)
            with runtime.autocast():
                if methods:
                    loss = model.training_loss(x, y, index, loss_fn)
                elif mixup > 0:
                    loss = _mixup_loss(net, loss_fn, x, y, mixup, generator)
                else:
                    loss = loss_fn(net(x), y)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            total += loss.detach() * len(y)
            count += len(y)
        losses.append(total.item() / max(count, 1))
        if methods:
            model.end_epoch(epoch)
        bar.set_postfix(loss=f"{losses[-1]:.3f}")
        changed = epoch == 0 or epoch == epochs - 1 or plan != schedule.plan(epoch - 1)
        log.log(
            logging.INFO if changed else logging.DEBUG,  # long runs log only where the schedule moves
            "epoch %d: sampling power %.2f (expected class shares %s, drawn %s), re-weighting power %.2f%s, loss %.4f",
            epoch,
            plan.sampling_power,
            np.round(class_frequencies(counts, plan.sampling_power), 3).tolist(),
            drawn.tolist(),
            plan.reweight_power,
            f", class weights {np.round(loss_fn.weight.tolist(), 3).tolist()}" if base_weight is not None else "",
            losses[-1],
        )
    if hasattr(model, "generator"):
        model.generator = None
    return losses


def _sampling_weights(labels: Sequence[int], counts: Sequence[int], sampling_power: float) -> torch.Tensor | None:
    """Per-sample drawing weights of an epoch, or None for plain instance-balanced shuffling."""
    return None if sampling_power == 1.0 else sample_weights(labels, counts, sampling_power)


def _epoch_order(n: int, weights: torch.Tensor | None, generator: torch.Generator) -> torch.Tensor:
    """One epoch's sample order: a permutation, or ``n`` weighted draws with replacement."""
    if weights is None:
        return torch.randperm(n, generator=generator)
    return torch.multinomial(weights, n, replacement=True, generator=generator)


def _mixup_loss(net: nn.Module, loss_fn: nn.Module, x: torch.Tensor, y: torch.Tensor, alpha: float, generator):
    """The loss of ``x`` mixed with a shuffled copy of itself, mixing the two labels' losses alike."""
    lam = float(np.random.default_rng(int(torch.randint(2**31, (1,), generator=generator))).beta(alpha, alpha))
    order = torch.randperm(len(y), generator=generator).to(y.device)
    logits = net(lam * x + (1 - lam) * x[order])
    return lam * loss_fn(logits, y) + (1 - lam) * loss_fn(logits, y[order])


def _prepared(loader, runtime: Runtime, norm: Normalization, augment: Augment, generator: torch.Generator):
    """A DataLoader's uint8 batches as normalised, augmented model input on the device, with the
    samples' positions in the training set."""
    for clips, labels, index in loader:
        x = augment(runtime.model_input(clips, norm), norm, generator)
        yield x, labels.to(runtime.device, non_blocking=True), index.to(runtime.device, non_blocking=True)


class _Indexed(Dataset):
    """``(clip, label, position)``: methods that keep per-sample state need a batch's positions."""

    def __init__(self, data: Dataset):
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, int]:
        clip, label = self.data[index]
        return clip, label, index


class _InMemoryBatches:
    """A dataset held as one model-input tensor on the device; an epoch's batches are index slices."""

    def __init__(self, data: Dataset, runtime: Runtime, norm: Normalization, augment: Augment, generator):
        clips, labels, _ = zip(*(data[i] for i in range(len(data))), strict=True)
        self.x = runtime.model_input(torch.stack(clips), norm)
        self.y = torch.as_tensor(labels, device=runtime.device)
        self.norm, self.augment, self.generator = norm, augment, generator

    def epoch(self, batch_size: int, weights: torch.Tensor | None = None):
        """Batches of one epoch: a permutation, or ``len`` weighted draws with replacement."""
        n = len(self.y)
        order = _epoch_order(n, weights, self.generator)
        stop = n - 1 if n % batch_size == 1 and n > 1 else n
        for start in range(0, stop, batch_size):
            index = order[start : start + batch_size].to(self.y.device)
            yield self.augment(self.x.index_select(0, index), self.norm, self.generator), self.y[index], index


@torch.no_grad()
def predict(
    model: nn.Module,
    data: Dataset,
    *,
    batch_size: int,
    runtime: Runtime,
    norm: Normalization,
    output: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> np.ndarray:
    """Class probabilities, ``N x C``, in the order of ``data``; or ``output(input batch)`` (for
    example a methods model's ``au_probabilities``) of every batch, concatenated."""
    net = runtime.prepare(model.eval())
    out = []
    for clips, _ in runtime.loader(data, batch_size=batch_size, shuffle=False):
        x = runtime.model_input(clips, norm)
        with runtime.autocast():
            result = output(x) if output is not None else net(x).float().softmax(dim=1)
        out.append(result.float().cpu())
    return torch.cat(out).numpy()
