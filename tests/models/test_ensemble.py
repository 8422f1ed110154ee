"""Late fusion: members trained each on its own loss, predicting their mean probability."""

import copy
import functools

import pytest
import torch
from torch import nn

from mer.data.transforms import Normalization
from mer.models.ensemble import Ensemble
from mer.models.rcn import RCN
from mer.models.ststnet import STSTNet
from mer.training.device import resolve_runtime
from mer.training.trainer import predict


def _linear(num_classes: int) -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 28 * 28, num_classes))


def test_prediction_is_the_mean_of_the_members_probabilities():
    torch.manual_seed(0)
    net = Ensemble(num_classes=3, members={"linear": _linear, "rcn": functools.partial(RCN)}).eval()
    clips = torch.randint(0, 256, (5, 1, 28, 28, 3), dtype=torch.uint8)  # B x T x H x W x C flow images
    x = clips.permute(0, 4, 1, 2, 3).float() / 255
    with torch.no_grad():
        mean = torch.stack([m(x).softmax(dim=1) for m in net.members.values()]).mean(dim=0)
    norm = Normalization(mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))
    probs = predict(net, [(c, 0) for c in clips], batch_size=2, runtime=resolve_runtime("cpu"), norm=norm)
    assert torch.allclose(torch.as_tensor(probs), mean, atol=1e-6)


def test_a_joint_step_is_each_members_own_step():
    torch.manual_seed(0)
    net = Ensemble(num_classes=3, members=[_linear, _linear])
    alone = copy.deepcopy(net.members["1"])
    x, y = torch.rand(8, 3, 28, 28), torch.arange(8) % 3
    for model, loss in ((net, lambda: net.training_loss(x, y, None, nn.CrossEntropyLoss())[0]),
                        (alone, lambda: nn.functional.cross_entropy(alone(x), y))):  # fmt: skip
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        for _ in range(5):
            optimizer.zero_grad()
            loss().backward()
            optimizer.step()
    for a, b in zip(net.members["1"].parameters(), alone.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-6)
    assert not torch.allclose(net.members["0"][1].weight, net.members["1"][1].weight)


def test_the_generator_reaches_every_member_or_is_absent():
    net = Ensemble(num_classes=3, members={"ststnet": STSTNet, "rcn": RCN})
    generator = torch.Generator()
    net.generator = generator
    assert net.members["ststnet"].generator is generator and net.members["rcn"].generator is generator
    assert not hasattr(Ensemble(num_classes=3, members=[STSTNet, _linear]), "generator")
    with pytest.raises(ValueError, match="at least one"):
        Ensemble(num_classes=3, members={})
