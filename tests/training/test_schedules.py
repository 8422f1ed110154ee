import logging
import re
from functools import partial

import numpy as np
import pytest
import torch
from torch.utils.data import TensorDataset

from mer.data.transforms import Normalization
from mer.losses import CrossEntropy, class_weights
from mer.training.device import resolve_runtime
from mer.training.schedules import DeferredReweighting, Progressive, Standard, class_frequencies, sample_weights
from mer.training.trainer import train_model


def test_progressive_moves_smoothly_from_instance_to_class_balanced():
    schedule = Progressive(warmup_epochs=2, transition_epochs=4, shape="linear")
    plans = [schedule.plan(e) for e in range(8)]
    assert [p.sampling_power for p in plans] == [1, 1, 0.75, 0.5, 0.25, 0, 0, 0]
    assert [p.reweight_power for p in plans] == [0, 0, 0.25, 0.5, 0.75, 1, 1, 1]
    cosine = [Progressive(2, 4).mix(e) for e in range(8)]
    assert cosine[:2] == [0, 0] and cosine[5:] == [1, 1, 1] and cosine[3] == pytest.approx(0.5)


def test_standard_and_drw():
    assert [Standard().plan(e).reweight_power for e in range(3)] == [0, 0, 0]
    assert [DeferredReweighting(start_epoch=2).plan(e).reweight_power for e in range(4)] == [0, 0, 1, 1]


def test_sampler_class_frequencies():
    counts = [8, 2, 1]
    assert class_frequencies(counts, 1).tolist() == pytest.approx([8 / 11, 2 / 11, 1 / 11])
    assert class_frequencies(counts, 0).tolist() == pytest.approx([1 / 3] * 3)
    roots = np.sqrt(counts)
    assert class_frequencies(counts, 0.5).tolist() == pytest.approx((roots / roots.sum()).tolist())
    labels = [0] * 8 + [1] * 2 + [2]
    weights = sample_weights(labels, counts, 0.0)
    per_class = [weights[np.array(labels) == c].sum().item() for c in range(3)]
    assert per_class == pytest.approx([1, 1, 1])


@pytest.mark.parametrize("in_memory", [False, True])
def test_trainer_draws_the_scheduled_class_frequencies_and_reweights(caplog, in_memory):
    counts = [320, 64, 16]
    labels = [c for c, n in enumerate(counts) for _ in range(n)]
    data = TensorDataset(torch.zeros(len(labels), 1, 2, 2, 3, dtype=torch.uint8), torch.tensor(labels))
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3))
    loss = CrossEntropy(class_counts=counts)
    schedule = Progressive(warmup_epochs=1, transition_epochs=2, shape="linear")
    with caplog.at_level(logging.INFO, logger="mer.training.trainer"):
        train_model(
            model,
            data,
            loss_fn=loss,
            optimizer=partial(torch.optim.SGD, lr=0.1),
            epochs=4,
            batch_size=50,
            runtime=resolve_runtime("cpu"),
            norm=Normalization(),
            labels=labels,
            num_classes=3,
            schedule=schedule,
            progress=False,
            in_memory=in_memory,
        )
    drawn = [list(map(int, re.search(r"drawn \[([\d, ]+)\]", r.message).group(1).split(", "))) for r in caplog.records]
    assert len(drawn) == 4
    for epoch, got in enumerate(drawn):
        expected = class_frequencies(counts, schedule.plan(epoch).sampling_power)
        assert np.allclose(np.array(got) / sum(got), expected, atol=0.06), (epoch, got)
    assert drawn[0] == counts  # instance-balanced: every sample once
    assert loss.weight.tolist() == pytest.approx(class_weights(counts, "effective").tolist(), rel=1e-5)


def test_schedule_configs_scale_with_the_run_length():
    from pathlib import Path

    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate

    from mer.config import register

    register()
    configs = Path(__file__).resolve().parents[2] / "configs"
    with initialize_config_dir(config_dir=str(configs), version_base="1.3"):
        short = instantiate(compose("config", overrides=["schedule=progressive", "trainer.epochs=8"]).schedule)
        long = instantiate(compose("config", overrides=["schedule=drw", "trainer.epochs=800"]).schedule)
    assert (short.warmup_epochs, short.transition_epochs) == (2, 4)  # of 8 epochs
    assert long.start_epoch == 500
