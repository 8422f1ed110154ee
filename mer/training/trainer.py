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
    last_batch: str = "keep",
    on_epoch: Callable[[dict], None] | None = None,
) -> list[dict]:
    """Train ``model`` in place for ``epochs`` and return each epoch's record: ``epoch``, mean
    ``loss``, ``accuracy`` on the (augmented) training batches (None with the training methods, whose
    loss hides the logits), ``sampling_power`` and ``reweight_power``; ``on_epoch`` gets each record
    as the epoch ends (training curves, TensorBoard).

    ``labels`` are the training samples' classes, in the order of ``data``; the ``schedule``
    (:mod:`mer.training.schedules`) sets each epoch's class sampling and loss re-weighting from
    their counts, and every epoch's class shares are logged. There is no early stopping and no
    model selection: the held-out subject is evaluated with the last epoch's weights, so nothing is
    ever chosen on it.

    ``in_memory`` puts the whole set on the device as one normalised tensor once and draws batches by
    indexing it, without a DataLoader: for small models on small fixed inputs (flow images), where
    per-batch collation would cost more than the step. Every sample then counts every epoch
    (``last_batch``, :data:`LAST_BATCH`: the last partial batch trained on or carried over).
    Models with a ``generator`` attribute (STSTNet) draw their dropout masks from the fold's seeded
    generator, so folds trained side by side in threads stay reproducible.

    ``augment`` (default: none) transforms each training batch on the
    device; ``mixup`` > 0 mixes each batch with a shuffled copy of itself, the mixing weight drawn from
    Beta(mixup, mixup) (Zhang et al., ICLR 2018), and mixes the two labels' losses alike.
    """
    schedule = schedule or Standard()
    runtime = runtime.suited_to(model)
    own_loss = hasattr(model, "training_loss")  # training methods (mer.methods.model), an ensemble
    data = _Indexed(data)
    counts = np.bincount(np.asarray(labels), minlength=num_classes).tolist()
    loss_fn = loss_fn.to(runtime.device)  # its class weights index the batch's labels there
    base_weight = loss_fn.weight.clone() if isinstance(loss_fn, ClassAwareLoss) else None
    generator = torch.Generator().manual_seed(seed)
    augment = augment or Augment()
    if mixup > 0 and own_loss:
        raise ValueError(f"trainer.mixup does not combine with {type(model).__name__}'s own training loss yet")
    if own_loss and distributed.active():
        raise ValueError(f"{type(model).__name__}'s own training loss does not run under torchrun yet; run one process")
    if hasattr(model, "generator"):
        model.generator = runtime.dropout_generator(generator, seed)
    net = runtime.prepare(model.train())
    if in_memory and distributed.active():
        log.info("trainer.in_memory is for one process: under torchrun each process loads its shard")
        in_memory = False
    weights = lambda power: _sampling_weights(labels, counts, power)  # noqa: E731
    prepare = _Preparation(runtime, norm, augment, generator)
    if in_memory:
        source = _InMemoryBatches(data, prepare, batch_size, weights, last_batch)
    elif distributed.active():
        net = distributed.replicate(net, runtime.device)
        source = _ShardedBatches(data, prepare, batch_size, weights, seed)
    else:
        source = _LoaderBatches(data, prepare, batch_size, weights)
    opt = optimizer(model.parameters())
    scaler = torch.amp.GradScaler(enabled=runtime.use_scaler)
    history = []
    bar = tqdm(range(epochs), desc="epochs", leave=False, disable=not progress)
    for epoch in bar:
        plan = schedule.plan(epoch)
        if base_weight is not None:
            loss_fn.set_class_weights(_reweighted(base_weight, counts, plan.reweight_power))
        drawn = torch.zeros(num_classes, dtype=torch.long, device=runtime.device)
        total = torch.zeros((), device=runtime.device)
        correct = torch.zeros((), device=runtime.device)
        count = scored = 0
        for x, y, index in source.epoch(epoch, plan.sampling_power):
            drawn.index_add_(0, y, torch.ones_like(y))
            with runtime.autocast():
                if own_loss:
                    loss, logits = model.training_loss(x, y, index, loss_fn)
                elif mixup > 0:
                    loss, logits = _mixup_loss(net, loss_fn, x, y, mixup, generator)
                else:
                    logits = net(x)
                    loss = loss_fn(logits, y)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            total += loss.detach() * len(y)
            if logits is not None:
                correct += (logits.detach().argmax(dim=1) == y).sum()
                scored += len(y)
            count += len(y)
        record = {
            "epoch": epoch,
            "loss": total.item() / max(count, 1),
            "accuracy": correct.item() / scored if scored else None,
            "sampling_power": plan.sampling_power,
            "reweight_power": plan.reweight_power,
        }
        history.append(record)
        if on_epoch is not None:
            on_epoch(record)
        if own_loss:
            model.end_epoch(epoch)
        bar.set_postfix(loss=f"{record['loss']:.3f}")
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
            record["loss"],
        )
    if hasattr(model, "generator"):
        model.generator = None
    return history


def _sampling_weights(labels: Sequence[int], counts: Sequence[int], sampling_power: float) -> torch.Tensor | None:
    """Per-sample drawing weights of an epoch, or None for plain instance-balanced shuffling."""
    return None if sampling_power == 1.0 else sample_weights(labels, counts, sampling_power)


def _epoch_order(n: int, weights: torch.Tensor | None, generator: torch.Generator) -> torch.Tensor:
    """One epoch's sample order: a permutation, or ``n`` weighted draws with replacement."""
    if weights is None:
        return torch.randperm(n, generator=generator)
    return torch.multinomial(weights, n, replacement=True, generator=generator)


def _mixup_loss(net: nn.Module, loss_fn: nn.Module, x: torch.Tensor, y: torch.Tensor, alpha: float, generator):
    """The loss of ``x`` mixed with a shuffled copy of itself, mixing the two labels' losses alike, and
    the logits (training accuracy scores them against ``y``)."""
    lam = float(np.random.default_rng(int(torch.randint(2**31, (1,), generator=generator))).beta(alpha, alpha))
    order = torch.randperm(len(y), generator=generator).to(y.device)
    logits = net(lam * x + (1 - lam) * x[order])
    return lam * loss_fn(logits, y) + (1 - lam) * loss_fn(logits, y[order]), logits


class _Preparation:
    """uint8 batches to normalised, augmented model input on the device."""

    def __init__(self, runtime: Runtime, norm: Normalization, augment: Augment, generator: torch.Generator):
        self.runtime, self.norm, self.augment, self.generator = runtime, norm, augment, generator

    def __call__(self, x: torch.Tensor, *, normalised: bool = False) -> torch.Tensor:
        x = x if normalised else self.runtime.model_input(x, self.norm)
        return self.augment(x, self.norm, self.generator)

    def batches(self, loader):
        """A DataLoader's batches as model input, labels and the samples' positions, on the device."""
        device = self.runtime.device
        for clips, labels, index in loader:
            yield self(clips), labels.to(device, non_blocking=True), index.to(device, non_blocking=True)


class _LoaderBatches:
    """Batches from a DataLoader: shuffled, or drawn with the epoch's class-sampling weights."""

    def __init__(self, data: Dataset, prepare: _Preparation, batch_size: int, weights):
        self.data, self.prepare, self.batch_size, self.weights = data, prepare, batch_size, weights
        self.loaders = {}  # one per sampling power, so persistent workers survive the epochs that share it

    def epoch(self, epoch: int, sampling_power: float):
        if sampling_power not in self.loaders:
            weights = self.weights(sampling_power)
            generator = self.prepare.generator
            sampler = None
            if weights is not None:
                sampler = WeightedRandomSampler(weights, len(self.data), replacement=True, generator=generator)
            self.loaders[sampling_power] = self.prepare.runtime.loader(
                self.data,
                batch_size=self.batch_size,
                shuffle=sampler is None,
                sampler=sampler,
                generator=generator,
                drop_last=len(self.data) > self.batch_size,
            )
        return self.prepare.batches(self.loaders[sampling_power])


class _ShardedBatches:
    """Under torchrun: every process draws the same epoch order and loads its own shard of it."""

    def __init__(self, data: Dataset, prepare: _Preparation, batch_size: int, weights, seed: int):
        n = len(data)
        self.power = 1.0
        self.sharded = distributed.ShardedEpochs(
            lambda epoch: _epoch_order(
                n, weights(self.power), torch.Generator().manual_seed(seed * 100_003 + epoch)
            ),  # the same in every process
            n,
        )
        self.prepare = prepare
        self.loader = prepare.runtime.loader(
            data,
            batch_size=max(1, batch_size // distributed.world_size()),
            shuffle=False,
            sampler=self.sharded,
            drop_last=n > batch_size,
        )

    def epoch(self, epoch: int, sampling_power: float):
        self.power = sampling_power
        self.sharded.set_epoch(epoch)
        return self.prepare.batches(self.loader)


#: What an in-memory epoch does with its last partial batch: train on it (``keep``; one sample
#: alone is dropped, BatchNorm cannot normalise it) or ``carry`` it into the next epoch's first
#: batch, so that every batch holds ``batch_size`` samples and every sample still counts once an
#: epoch (fused folds of unequal size then step together, one call a step).
LAST_BATCH = ("keep", "carry")


class _InMemoryBatches:
    """A dataset held as one model-input tensor on the device; an epoch's batches are index slices."""

    def __init__(self, data: Dataset, prepare: _Preparation, batch_size: int, weights, last_batch: str = "keep"):
        if last_batch not in LAST_BATCH:
            raise ValueError(f"trainer.last_batch={last_batch!r}: choose one of {', '.join(LAST_BATCH)}")
        clips, labels, _ = zip(*(data[i] for i in range(len(data))), strict=True)
        self.x = prepare.runtime.model_input(torch.stack(clips), prepare.norm)
        self.y = torch.as_tensor(labels, device=prepare.runtime.device)
        self.prepare, self.batch_size, self.weights = prepare, batch_size, weights
        self.carry = last_batch == "carry" and len(self.y) > batch_size
        self.leftover = torch.zeros(0, dtype=torch.long)

    def epoch(self, epoch: int, sampling_power: float):
        """Batches of one epoch: a permutation, or ``len`` weighted draws with replacement. With
        ``carry`` the samples of a last partial batch open the next epoch's first batch instead."""
        n, size = len(self.y), self.batch_size
        order = _epoch_order(n, self.weights(sampling_power), self.prepare.generator)
        if self.carry:
            order = torch.cat([self.leftover, order])
            stop = len(order) // size * size
            self.leftover = order[stop:]
        else:
            stop = n - 1 if n % size == 1 and n > 1 else n
        for start in range(0, stop, size):
            index = order[start : start + size].to(self.y.device)
            yield self.prepare(self.x.index_select(0, index), normalised=True), self.y[index], index


class _Indexed(Dataset):
    """``(clip, label, position)``: methods that keep per-sample state need a batch's positions."""

    def __init__(self, data: Dataset):
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, int]:
        clip, label = self.data[index]
        return clip, label, index


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
    runtime = runtime.suited_to(model)
    net = runtime.prepare(model.eval())
    out = []
    for clips, _ in runtime.loader(data, batch_size=batch_size, shuffle=False):
        x = runtime.model_input(clips, norm)
        with runtime.autocast():
            result = output(x) if output is not None else net(x).float().softmax(dim=1)
        out.append(result.float().cpu())
    return torch.cat(out).numpy()
