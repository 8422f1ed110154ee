import torch
from torch.utils.data import TensorDataset

from mer.data.transforms import Augment, Normalization
from mer.training.device import resolve_runtime
from mer.training.trainer import _Indexed, _InMemoryBatches, _Preparation


def batches(n, batch_size, weights=None, seed=0):
    data = TensorDataset(torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1, 1).expand(n, 1, 1, 1, 3), torch.zeros(n))
    prepare = _Preparation(
        resolve_runtime("cpu"), Normalization((0, 0, 0), (1, 1, 1)), Augment(), torch.Generator().manual_seed(seed)
    )
    source = _InMemoryBatches(_Indexed(data), prepare, batch_size, lambda power: weights)
    out = []
    for x, _, index in source.epoch(0, 1.0):
        values = (x[:, 0, 0, 0, 0] * 255).round().long()
        assert torch.equal(values, index)  # each batch names its samples' positions (per-sample methods state)
        out.append(values.tolist())
    return out


def test_an_in_memory_epoch_draws_every_sample_once_and_keeps_the_last_partial_batch():
    got = batches(10, 4)
    assert [len(b) for b in got] == [4, 4, 2]
    assert sorted(sum(got, [])) == list(range(10))
    assert batches(10, 4) == got and batches(10, 4, seed=1) != got


def test_a_single_leftover_sample_is_dropped_for_batchnorm():
    got = batches(9, 4)
    assert [len(b) for b in got] == [4, 4]
    assert len(set(sum(got, []))) == 8


def test_weighted_epochs_draw_with_replacement_by_weight():
    weights = torch.tensor([0.0, 0.0, 1.0, 1.0, 0.0, 0.0], dtype=torch.double)
    drawn = sum(batches(6, 4, weights), [])
    assert len(drawn) == 6 and set(drawn) <= {2, 3}


def test_loaders_leave_the_global_generator_alone():
    """Folds trained side by side initialise from torch's global generator; loaders must not draw from it."""
    data = TensorDataset(torch.zeros(6, 1, 2, 2, 3, dtype=torch.uint8), torch.zeros(6, dtype=torch.long))
    before = torch.random.get_rng_state()
    for _ in resolve_runtime("cpu").loader(data, batch_size=4, shuffle=False):
        pass
    assert torch.equal(torch.random.get_rng_state(), before)


def test_mixup_mixes_inputs_and_the_two_labels_losses_with_one_seeded_weight():
    import numpy as np

    from mer.training.trainer import _mixup_loss

    torch.manual_seed(0)
    net = torch.nn.Linear(4, 3)
    x, y = torch.randn(6, 4), torch.tensor([0, 1, 2, 0, 1, 2])
    loss_fn = torch.nn.CrossEntropyLoss()
    got, got_logits = _mixup_loss(net, loss_fn, x, y, 0.4, torch.Generator().manual_seed(5))
    replay = torch.Generator().manual_seed(5)  # the same draws, by hand
    lam = float(np.random.default_rng(int(torch.randint(2**31, (1,), generator=replay))).beta(0.4, 0.4))
    order = torch.randperm(6, generator=replay)
    logits = net(lam * x + (1 - lam) * x[order])
    expected = lam * loss_fn(logits, y) + (1 - lam) * loss_fn(logits, y[order])
    assert 0 < lam < 1 and torch.allclose(got, expected) and torch.allclose(got_logits, logits)


def test_carried_epochs_hold_full_batches_and_every_sample_once_an_epoch():
    runtime = resolve_runtime("cpu", num_threads=1)
    data = _Indexed(TensorDataset(torch.zeros(10, 1, 2, 2, 3, dtype=torch.uint8), torch.arange(10)))
    prepare = _Preparation(runtime, Normalization(mean=[0.0] * 3, std=[1.0] * 3), Augment(), torch.Generator())
    source = _InMemoryBatches(data, prepare, 4, lambda power: None, "carry")
    epochs = [[index.tolist() for _, _, index in source.epoch(e, 1.0)] for e in range(3)]
    assert [len(e) for e in epochs] == [2, 3, 2]  # 10 + 10 + 10 samples: 8 | 4 + 8 (+2 carried) | 4 + 4
    assert all(len(batch) == 4 for epoch in epochs for batch in epoch)
    drawn = [i for epoch in epochs for batch in epoch for i in batch]
    assert sorted(drawn[:8] + source.leftover.tolist() + drawn[8:]) == sorted(list(range(10)) * 3)
