"""Train many folds' models as one batched model on one device (horizontal fusion).

LOSO is many identical small jobs; one at a time, a small model leaves a GPU idle between kernel
launches. Here the folds' weights, BatchNorm statistics and optimizer states are stacked along a
new first dimension and every step runs all folds through ``torch.func.vmap`` (Wang et al.,
"Horizontally Fused Training Array", MLSys 2021). Each fold keeps what it has one at a time: its
initial weights (built by the caller with the fold's seed), its training samples, batch order and
augmentation (drawn from its own generator by the trainer's own batch sources), its BatchNorm
statistics, its class weights and its optimizer state (:class:`StackedOptimizer`), so predictions
equal training the folds one at a time within float tolerance.

Dropout: vmap takes no generator, so the uniforms of mer's seeded dropout layers
(:mod:`mer.models.seeded_dropout`, every flow model's) are drawn outside it, from each fold's own
dropout generator in the order the fold draws them alone, and handed in: those folds drop what they
drop alone. Torch's own dropout (r3d's head, the transformer's) draws from the global generator in
either case, different for each fold, so there fused and alone differ by their masks.

Precision: fused folds compute in float32 (TF32 on a GPU's tensor cores) without autocast or
channels-last: vmap's batching rules for convolutions and BatchNorm do not take autocast's mixed
dtypes (on an H200: "Input type (BFloat16) and bias type (float) should be the same" in HTNet,
"Expected running_mean to have type BFloat16" in r3d), so on a GPU a fused fold matches a
one-at-a-time fold trained with ``trainer.amp=false``.

At each step the folds whose batches have the same size run together; a fold whose epoch has ended
(fewer samples) or whose batch is another size sits that call out, its weights and optimizer state
untouched, as one at a time.
"""

from __future__ import annotations

import copy
import functools
import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap
from torch.utils.data import Dataset
from tqdm import tqdm

from mer.data.transforms import Augment, Normalization
from mer.losses import ClassAwareLoss
from mer.models.batched import LearnedStructure
from mer.models.seeded_dropout import Draw, recorded_noise, supplied_noise
from mer.training import distributed
from mer.training.device import Runtime
from mer.training.schedules import Standard
from mer.training.trainer import (
    _Indexed,
    _InMemoryBatches,
    _LoaderBatches,
    _Preparation,
    _reweighted,
    _sampling_weights,
)

#: The optimizers whose update is elementwise and written here for stacked folds.
OPTIMIZERS = (torch.optim.Adam, torch.optim.AdamW, torch.optim.SGD)


@dataclass
class FoldJob:
    """One fold's freshly initialised model and what it trains on."""

    model: nn.Module
    data: Dataset
    labels: Sequence[int]
    loss_fn: nn.Module
    seed: int
    on_epoch: Callable[[dict], None] | None = None


def why_not_fused(
    model: nn.Module, *, optimizer: Callable, runtime: Runtime, mixup: float, sample: torch.Tensor | None = None
) -> str | None:
    """None where folds of ``model`` can train fused, else the reason they run one at a time.

    With a ``sample`` (one model input) two copies of the model also try a batched training step on
    the CPU: a model vmap cannot run says so here rather than mid-run.
    """
    if hasattr(model, "training_loss"):
        return f"{type(model).__name__} has its own training loss (training methods, an ensemble)"
    if mixup > 0:
        return "trainer.mixup mixes batches with a generator vmap cannot take"
    if runtime.use_scaler:
        return "fp16 needs a gradient scaler per fold"
    if distributed.active():
        return "under torchrun each process trains its shard of one fold"
    if runtime.compile:
        return "trainer.compile"
    unsupported = StackedOptimizer.unsupported(optimizer)
    if unsupported is not None or sample is None:
        return unsupported
    try:
        _trial_step(model, sample.expand(2, 2, *sample.shape), torch.device("cpu"), backward=False)
    except RuntimeError as error:
        return f"{type(model).__name__} does not run under vmap ({str(error).splitlines()[0]})"
    return None


class StackedOptimizer:
    """Adam, AdamW or SGD over parameters stacked fold by fold, with a step count per fold, so a fold
    that sits a step out keeps its state exactly (PyTorch's update equations, decoupled weight decay
    for AdamW, L2 for Adam and SGD)."""

    def __init__(self, optimizer: Callable, params: dict[str, torch.Tensor]):
        self.kind = optimizer.func
        self.hp = {**_defaults(self.kind), **optimizer.keywords}
        self.params = params
        folds = next(iter(params.values())).shape[0]
        self.steps = torch.zeros(folds, device=next(iter(params.values())).device)
        self.state = {k: {} for k in params}

    @staticmethod
    def unsupported(optimizer: Callable) -> str | None:
        if not isinstance(optimizer, functools.partial) or optimizer.func not in OPTIMIZERS or optimizer.args:
            return f"trainer.optimizer {optimizer!r} is not one of {', '.join(o.__name__ for o in OPTIMIZERS)}"
        hp = {**_defaults(optimizer.func), **optimizer.keywords}
        unknown = [k for k in ("amsgrad", "maximize", "differentiable") if hp.get(k)]
        if unknown or hp.get("dampening"):
            return f"trainer.optimizer option {', '.join(unknown) or 'dampening'} is not written for stacked folds"
        return None

    @torch.no_grad()
    def step(self, index: torch.Tensor | None, grads: dict[str, torch.Tensor]) -> None:
        """Update the folds ``index`` (all where None) with their gradients, stacked alike."""
        steps = self.steps if index is None else self.steps[index]
        steps = steps + 1
        for name, grad in grads.items():
            param = self.params[name] if index is None else self.params[name][index]
            state = {k: (v if index is None else v[index]) for k, v in self.state[name].items()}
            shape = (-1,) + (1,) * (param.dim() - 1)
            param = self._update(param, grad.to(param.dtype), state, steps.view(shape))
            if index is None:
                self.params[name].copy_(param)
                self.state[name].update(state)
            else:
                self.params[name][index] = param
                for k, v in state.items():
                    self.state[name].setdefault(k, torch.zeros_like(self.params[name]))[index] = v
        if index is None:
            self.steps += 1
        else:
            self.steps[index] = steps

    def _update(self, param: torch.Tensor, grad: torch.Tensor, state: dict, step: torch.Tensor) -> torch.Tensor:
        hp, lr, wd = self.hp, self.hp["lr"], self.hp["weight_decay"]
        if self.kind is torch.optim.SGD:
            if wd:
                grad = grad + wd * param
            momentum = hp["momentum"]
            if momentum:
                buf = state.get("momentum_buffer")
                buf = grad.clone() if buf is None else torch.where(step == 1, grad, buf * momentum + grad)
                state["momentum_buffer"] = buf
                grad = grad + momentum * buf if hp["nesterov"] else buf
            return param - lr * grad
        beta1, beta2 = hp["betas"]
        if self.kind is torch.optim.AdamW:
            param = param * (1 - lr * wd)
        elif wd:
            grad = grad + wd * param
        avg = state.get("exp_avg", torch.zeros_like(param)).lerp(grad, 1 - beta1)
        avg_sq = state.get("exp_avg_sq", torch.zeros_like(param)) * beta2 + (1 - beta2) * grad * grad
        state["exp_avg"], state["exp_avg_sq"] = avg, avg_sq
        correction1, correction2 = 1 - beta1**step, 1 - beta2**step
        denom = avg_sq.sqrt() / correction2.sqrt() + hp["eps"]
        return param - (lr / correction1) * avg / denom


def _defaults(kind: type) -> dict:
    return {
        name: p.default
        for name, p in inspect.signature(kind).parameters.items()
        if p.default is not inspect.Parameter.empty
    }


class _Stack:
    """Modules of one architecture as one: stacked tensors and a weightless skeleton to call them with."""

    def __init__(self, modules: Sequence[nn.Module]):
        params, buffers = stack_module_state(list(modules))
        self.params = {k: v.detach() for k, v in params.items()}
        self.buffers = buffers
        self.skeleton = copy.deepcopy(modules[0]).to("meta")
        self.learned = modules[0] if isinstance(modules[0], LearnedStructure) else None

    def call(self, params: dict, buffers: dict, *args):
        return functional_call(self.skeleton, (params, buffers), args)

    def structures(self, members: Sequence[int]) -> tuple[torch.Tensor, ...]:
        """The folds' structures from their current weights, stacked (:class:`LearnedStructure`);
        nothing for a model without one."""
        if self.learned is None:
            return ()
        with torch.no_grad():
            folds = [{k: v[i] for k, v in self.params.items()} for i in members]
            return (torch.stack([self.learned.structure_of(fold) for fold in folds]),)

    def write_back(self, modules: Sequence[nn.Module]) -> None:
        """Each fold's trained tensors into its own module, for prediction."""
        with torch.no_grad():
            for i, module in enumerate(modules):
                for name, tensor in (*module.named_parameters(), *module.named_buffers()):
                    source = self.params.get(name, self.buffers.get(name))
                    tensor.copy_(source[i])


def train_fused(
    jobs: Sequence[FoldJob],
    *,
    optimizer: Callable,
    epochs: int,
    batch_size: int,
    runtime: Runtime,
    norm: Normalization,
    num_classes: int,
    schedule=None,
    augment: Augment | None = None,
    in_memory: bool = False,
    last_batch: str = "keep",
    progress: bool = True,
) -> list[list[dict]]:
    """Train every job's model in place, all at once; return each job's epoch records as
    :func:`mer.training.trainer.train_model` does (``accuracy`` on the training batches)."""
    schedule = schedule or Standard()
    augment = augment or Augment()
    runtime = replace(runtime, amp_dtype=None, channels_last=False)  # see the module's docstring
    models = [runtime.prepare(job.model.train()) for job in jobs]
    for model in models:
        if hasattr(model, "generator"):
            model.generator = None  # vmap takes no generator: each fold's uniforms are supplied (_FoldNoise)
    stack = _Stack(models)
    losses = _Stack([job.loss_fn.to(runtime.device) for job in jobs])
    base_weights = [job.loss_fn.weight.clone() if isinstance(job.loss_fn, ClassAwareLoss) else None for job in jobs]
    counts = [np.bincount(np.asarray(job.labels), minlength=num_classes).tolist() for job in jobs]
    sources = [_source(job, runtime, norm, augment, batch_size, num_classes, in_memory, last_batch) for job in jobs]
    opt = StackedOptimizer(optimizer, stack.params)
    generators = [runtime.dropout_generator(s.prepare.generator, j.seed) for s, j in zip(sources, jobs, strict=True)]
    noise = _FoldNoise(models[0], generators)
    histories: list[list[dict]] = [[] for _ in jobs]
    forward = vmap(functools.partial(_call_with_noise, stack), randomness="different")
    loss_of = vmap(functools.partial(losses.call, {}))  # a loss holds buffers (class weights), no parameters
    for epoch in tqdm(range(epochs), desc="fused epochs", leave=False, disable=not progress):
        plan = schedule.plan(epoch)
        if any(w is not None for w in base_weights):
            losses.buffers["weight"] = torch.stack(
                [_reweighted(w, c, plan.reweight_power) for w, c in zip(base_weights, counts, strict=True)]
            )
        total = torch.zeros(len(jobs), device=runtime.device)
        correct = torch.zeros(len(jobs), device=runtime.device)
        seen = [0] * len(jobs)
        streams = [iter(source.epoch(epoch, plan.sampling_power)) for source in sources]
        while True:
            batches = [next(stream, None) for stream in streams]
            if all(b is None for b in batches):
                break
            for size in sorted({len(b[1]) for b in batches if b is not None}):
                members = [i for i, b in enumerate(batches) if b is not None and len(b[1]) == size]
                x = torch.stack([batches[i][0] for i in members])
                y = torch.stack([batches[i][1] for i in members])
                index = None if len(members) == len(jobs) else torch.as_tensor(members, device=runtime.device)
                inputs = (x, noise(members, x[0]), *stack.structures(members))
                fold_loss, hits = _step(stack, losses, opt, forward, loss_of, index, y, inputs)
                where = slice(None) if index is None else index
                total[where] += fold_loss * size
                correct[where] += hits
                for i in members:
                    seen[i] += size
        totals, corrects = total.tolist(), correct.tolist()  # one device sync an epoch, not two a fold
        for i, job in enumerate(jobs):
            record = {
                "epoch": epoch,
                "loss": totals[i] / max(seen[i], 1),
                "accuracy": corrects[i] / seen[i] if seen[i] else None,
                "sampling_power": plan.sampling_power,
                "reweight_power": plan.reweight_power,
            }
            histories[i].append(record)
            if job.on_epoch is not None:
                job.on_epoch(record)
    stack.write_back(models)
    return histories


def _source(job: FoldJob, runtime, norm, augment, batch_size, num_classes, in_memory, last_batch):
    """The fold's batches exactly as one at a time: its own generator, sampler and batch sizes."""
    generator = torch.Generator().manual_seed(job.seed)
    prepare = _Preparation(runtime, norm, augment, generator)
    counts = np.bincount(np.asarray(job.labels), minlength=num_classes).tolist()
    weights = functools.partial(_sampling_weights, job.labels, counts)
    data = _Indexed(job.data)
    if in_memory:
        return _InMemoryBatches(data, prepare, batch_size, weights, last_batch)
    return _LoaderBatches(data, prepare, batch_size, weights)


class _FoldNoise:
    """Each fold's dropout uniforms for a step, drawn outside vmap from the fold's own dropout
    generator in the order the fold draws them alone (which draws a forward pass makes is recorded
    once a batch size), stacked fold by fold.

    The recording runs on the first fold's own module, not a copy (a copy of a large model on a GPU
    costs its size again): training reads only the stacked tensors, and :meth:`_Stack.write_back`
    overwrites every parameter and buffer of that module afterwards, BatchNorm statistics included.
    """

    def __init__(self, model: nn.Module, generators: Sequence[torch.Generator]):
        self.probe = model
        self.generators = generators
        self.draws: dict[int, list[Draw]] = {}

    def __call__(self, members: Sequence[int], x: torch.Tensor) -> list[torch.Tensor]:
        if len(x) not in self.draws:
            with recorded_noise() as draws, torch.no_grad():
                self.probe(x)
            self.draws[len(x)] = draws
        per_fold = [[d.draw(self.generators[i], x.device) for d in self.draws[len(x)]] for i in members]
        return [torch.stack(layer) for layer in zip(*per_fold, strict=True)]


def _call_with_noise(stack: _Stack, params: dict, buffers: dict, x: torch.Tensor, noise: list[torch.Tensor], *extra):
    """One replica's forward pass, its dropout layers fed its own uniforms (``extra``: its structure)."""
    with supplied_noise(noise):
        return stack.call(params, buffers, x, *extra)


def _step(stack: _Stack, losses: _Stack, opt: StackedOptimizer, forward, loss_of, index, y, inputs):
    """One optimizer step of the folds ``index`` (all where None) on ``inputs`` (their batches,
    dropout uniforms and structures); their losses and correct counts."""
    pick = (lambda t: t) if index is None else (lambda t: t[index])
    params = {k: pick(v).requires_grad_() for k, v in stack.params.items()}
    buffers = {k: pick(v) for k, v in stack.buffers.items()}
    loss_buffers = {k: pick(v) for k, v in losses.buffers.items()}
    logits = forward(params, buffers, *inputs)  # float32: no autocast under vmap (module docstring)
    fold_loss = loss_of(loss_buffers, logits, y)
    grads = torch.autograd.grad(fold_loss.sum(), list(params.values()))
    for v in params.values():
        v.requires_grad_(False)
    opt.step(index, dict(zip(params, grads, strict=True)))
    if index is not None:  # BatchNorm statistics were updated in the picked copies
        for k, v in buffers.items():
            stack.buffers[k][index] = v
    hits = (logits.detach().argmax(dim=-1) == y).sum(dim=1)
    return fold_loss.detach(), hits


def fold_capacity(model: nn.Module, sample: torch.Tensor, batch_size: int, runtime: Runtime) -> int:
    """How many folds of ``model`` fit at once on a CUDA device: from the memory one fused step of
    two folds takes on a batch like ``sample`` (one model input), within 80% of the free memory."""
    weights = sum(t.numel() * t.element_size() for t in model.parameters())
    torch.cuda.synchronize(runtime.device)
    free, _ = torch.cuda.mem_get_info(runtime.device)
    torch.cuda.reset_peak_memory_stats(runtime.device)
    before = torch.cuda.memory_allocated(runtime.device)
    _trial_step(model, sample.expand(2, batch_size, *sample.shape), runtime.device, backward=True)
    peak = torch.cuda.max_memory_allocated(runtime.device) - before
    per_fold = peak / 2 + 2 * weights  # the two moments the trial did not hold
    return max(1, int(0.8 * free // math.ceil(per_fold)))


def _trial_step(model: nn.Module, x: torch.Tensor, device: torch.device, *, backward: bool) -> None:
    """One fused forward (and backward) pass of two copies of ``model`` on ``x``, ``2 x B x ...``."""
    trial = [copy.deepcopy(model).to(device).train() for _ in range(2)]
    for m in trial:
        if hasattr(m, "generator"):
            m.generator = None  # as in training: vmap takes no generator
    stack = _Stack(trial)
    params = {k: v.requires_grad_(backward) for k, v in stack.params.items()}
    inputs = (x.to(device).contiguous(), *stack.structures(range(2)))
    out = vmap(stack.call, randomness="different")(params, stack.buffers, *inputs)
    if backward:
        torch.autograd.grad(out.float().sum(), list(params.values()))
