"""Folds trained fused (one batched model) predict as folds trained one at a time."""

import copy
import functools

import pytest
import torch
from torch import nn
from torch.utils.data import Subset, TensorDataset

from mer.data.transforms import Augment, Normalization
from mer.losses import CrossEntropy
from mer.models.facetoponet import FaceTopoNet
from mer.models.ststnet import STSTNet
from mer.training.device import Runtime
from mer.training.fused import FoldJob, StackedOptimizer, train_fused, why_not_fused
from mer.training.trainer import predict, train_model
from tests.models.test_models import IMAGE_MODELS, build

NORM = Normalization(mean=[0.5] * 3, std=[0.25] * 3)
CPU = Runtime(device=torch.device("cpu"))
#: small members of each family: 3-D convolutions with BatchNorm, attention over frames, 2-D
#: convolutions with BatchNorm, a hierarchical transformer, GRUs over a tree learned from the
#: model's own weights (each fold's tree computed outside vmap)
FAMILIES = {
    "r3d": [],
    "transformer": [],
    "ststnet": [],
    "sssnet": [],
    "htnet": ["model.dim=16", "model.block_repeats=[1,1,1]"],
    "facetoponet": ["model.hidden=8"],
}


def _without_dropout(net: nn.Module) -> nn.Module:
    """Dropout masks are the one documented difference of fused training; the rest must be equal."""
    for m in net.modules():
        if isinstance(m, nn.Dropout | nn.Dropout2d):
            m.p = 0.0
        if isinstance(m, nn.MultiheadAttention):
            m.dropout = 0.0
        if isinstance(m, STSTNet):
            m.dropout = 0.0
    return net


def _data(model: str, n: int = 23) -> TensorDataset:
    g = torch.Generator().manual_seed(1)
    shape = (n, 1, 28, 28, 3) if model in IMAGE_MODELS else (n, 8, 32, 32, 3)
    clips = torch.randint(0, 256, shape, dtype=torch.uint8, generator=g)
    return TensorDataset(clips, torch.arange(n) % 3)


def _both_ways(model: str, *, in_memory: bool, epochs: int = 2, last_batch: str = "keep", dropout: bool = False):
    """(one-at-a-time probabilities, fused probabilities) of three folds of unequal size."""
    data = _data(model)
    trains = [list(range(3, 23)), [i for i in range(23) if i % 4], list(range(0, 21))]  # 20, 17, 21 samples
    seeds = [11, 12, 13]
    models = []
    for seed in seeds:
        torch.manual_seed(seed)
        net = build(model, *FAMILIES[model], *(["model.dropout=0.3"] if dropout else []), num_classes=3)
        if isinstance(net, FaceTopoNet):  # its edges start from the landmarks: give each fold its own tree
            with torch.no_grad():
                net.edges.add_(torch.randn_like(net.edges))
        models.append(net if dropout else _without_dropout(net))
    recipe = dict(
        optimizer=functools.partial(
            torch.optim.SGD, lr=0.05, momentum=0.9, weight_decay=0.01
        ),  # Adam turns float noise in near-zero gradients into whole steps
        epochs=epochs,
        batch_size=8,
        runtime=CPU,
        norm=NORM,
        num_classes=3,
        augment=Augment(hflip=0.5, negate_channels=[0]),
        in_memory=in_memory,
        last_batch=last_batch,
        progress=False,
    )
    jobs = []
    alone = []
    for net, train, seed in zip(models, trains, seeds, strict=True):
        labels = [int(data[i][1]) for i in train]
        counts = [labels.count(c) for c in range(3)]
        jobs.append(
            FoldJob(
                copy.deepcopy(net),
                Subset(data, train),
                labels,
                CrossEntropy(class_counts=counts, weighting="inverse"),
                seed,
            )
        )
        train_model(
            net,
            Subset(data, train),
            labels=labels,
            seed=seed,
            loss_fn=CrossEntropy(class_counts=counts, weighting="inverse"),
            **recipe,
        )
        alone.append(predict(net, data, batch_size=64, runtime=CPU, norm=NORM))
    histories = train_fused(jobs, **recipe)
    assert [len(h) for h in histories] == [epochs] * 3
    fused = [predict(job.model, data, batch_size=64, runtime=CPU, norm=NORM) for job in jobs]
    return alone, fused


@pytest.mark.parametrize("model", FAMILIES)
def test_fused_folds_predict_as_folds_trained_one_at_a_time(model):
    alone, fused = _both_ways(model, in_memory=True)
    assert len(fused) == 3
    for a, f in zip(alone, fused, strict=True):
        assert abs(a - f).max() < 2e-4
    assert abs(alone[0] - alone[1]).max() > 1e-3  # the folds really differ


def test_fused_folds_with_carried_batches_predict_as_one_at_a_time():
    alone, fused = _both_ways("ststnet", in_memory=True, epochs=3, last_batch="carry")
    for a, f in zip(alone, fused, strict=True):
        assert abs(a - f).max() < 2e-4


def test_fused_folds_from_a_data_loader_predict_as_one_at_a_time():
    alone, fused = _both_ways("ststnet", in_memory=False, epochs=3)
    for a, f in zip(alone, fused, strict=True):
        assert abs(a - f).max() < 2e-4


@pytest.mark.parametrize(
    "optimizer",
    [
        functools.partial(torch.optim.Adam, lr=0.1, weight_decay=0.01),
        functools.partial(torch.optim.AdamW, lr=0.1, weight_decay=0.05),
        functools.partial(torch.optim.SGD, lr=0.1, momentum=0.9, weight_decay=0.01),
        functools.partial(torch.optim.SGD, lr=0.1, momentum=0.9, nesterov=True),
    ],
    ids=["adam", "adamw", "sgd", "nesterov"],
)
def test_the_stacked_optimizer_steps_each_fold_as_torch_does_and_leaves_skipped_folds_alone(optimizer):
    torch.manual_seed(0)
    start = torch.randn(3, 4)
    grads = [torch.randn(3, 4) for _ in range(4)]
    stacked = {"w": start.clone()}
    opt = StackedOptimizer(optimizer, stacked)
    # fold 1 sits out steps 1 and 2
    schedule = [None, torch.tensor([0, 2]), torch.tensor([0, 2]), None]
    for index, grad in zip(schedule, grads, strict=True):
        opt.step(index, {"w": grad if index is None else grad[index]})
    for fold in range(3):
        w = nn.Parameter(start[fold].clone())
        reference = optimizer([w])
        for index, grad in zip(schedule, grads, strict=True):
            if index is None or fold in index.tolist():
                w.grad = grad[fold].clone()
                reference.step()
        assert torch.allclose(stacked["w"][fold], w.detach(), atol=1e-5)


def test_what_cannot_fuse_says_why():
    net = build("ststnet")
    adam = functools.partial(torch.optim.Adam, lr=1e-3)
    assert why_not_fused(net, optimizer=adam, runtime=CPU, mixup=0.0) is None
    assert "mixup" in why_not_fused(net, optimizer=adam, runtime=CPU, mixup=0.2)
    rms = functools.partial(torch.optim.RMSprop, lr=1e-3)
    assert "RMSprop" in why_not_fused(net, optimizer=rms, runtime=CPU, mixup=0.0)
    amsgrad = functools.partial(torch.optim.Adam, amsgrad=True)
    assert "amsgrad" in why_not_fused(net, optimizer=amsgrad, runtime=CPU, mixup=0.0)
    sample = torch.randn(3, 1, 28, 28)
    assert why_not_fused(net, optimizer=adam, runtime=CPU, mixup=0.0, sample=sample) is None
    assert why_not_fused(build("facetoponet"), optimizer=adam, runtime=CPU, mixup=0.0, sample=sample) is None

    class Tree(nn.Module):  # structure from its own weights by code vmap cannot run, not declared
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.randn(4))

        def forward(self, x):
            return x.flatten(1)[:, :3] * float(self.w.argmax())

    reason = why_not_fused(Tree(), optimizer=adam, runtime=CPU, mixup=0.0, sample=sample)
    assert "Tree does not run under vmap" in reason


def test_the_gru_runs_under_vmap_as_the_fused_kernel_does():
    from torch.func import functional_call, stack_module_state, vmap

    from mer.models.batched import GRU

    torch.manual_seed(0)
    grus = [GRU(4, 5, batch_first=True, bidirectional=True) for _ in range(2)]
    params, _ = stack_module_state(grus)
    x = torch.randn(2, 3, 6, 4)
    skeleton = copy.deepcopy(grus[0]).to("meta")
    out, final = vmap(lambda p, xx: functional_call(skeleton, p, (xx,)))(params, x)
    for k, gru in enumerate(grus):
        ref_out, ref_final = gru(x[k])
        assert torch.allclose(out[k], ref_out, atol=1e-6) and torch.allclose(final[k], ref_final, atol=1e-6)


def test_fused_folds_train_under_a_mixed_precision_runtime_in_float32():
    """vmap's convolution rule refused autocast's bf16 input beside a float bias (HTNet on an H200;
    reproduced by CPU autocast): fused folds compute in float32 whatever the runtime's precision."""
    data = _data("htnet")
    jobs = [
        FoldJob(build("htnet", *FAMILIES["htnet"], num_classes=3), Subset(data, list(range(k, 20 + k))), [], None, k)
        for k in range(2)
    ]
    for job in jobs:
        job.labels = [int(data[i][1]) for i in job.data.indices]
        job.loss_fn = CrossEntropy(class_counts=[job.labels.count(c) for c in range(3)])
    bf16 = Runtime(device=torch.device("cpu"), amp_dtype=torch.bfloat16, channels_last=True)
    histories = train_fused(
        jobs,
        optimizer=functools.partial(torch.optim.Adam, lr=1e-3),
        epochs=1,
        batch_size=8,
        runtime=bf16,
        norm=NORM,
        num_classes=3,
        in_memory=True,
        progress=False,
    )
    assert all(torch.isfinite(torch.tensor(h[0]["loss"])) for h in histories)


@pytest.mark.parametrize("model", ["ststnet", "sssnet", "htnet", "facetoponet"])
def test_fused_folds_draw_each_folds_own_dropout_masks(model):
    """Seeded dropout layers get each fold's uniforms from its own generator, drawn outside vmap in
    the order the fold draws them alone: equal with dropout on, not only without it."""
    alone, fused = _both_ways(model, in_memory=True, epochs=2, dropout=True)
    for a, f in zip(alone, fused, strict=True):
        assert abs(a - f).max() < 2e-4
