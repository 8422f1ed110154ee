import copy

import pytest
import torch
from torch import nn

from mer.models.ststnet import STREAM_WIDTHS, STSTNet


class ThreeStreams(nn.Module):
    """STSTNet written stream by stream, as its authors did: the reference for the one-conv form."""

    def __init__(self, net: STSTNet):
        super().__init__()
        self.streams = nn.ModuleList()
        start = 0
        for width in STREAM_WIDTHS:
            conv, bn = nn.Conv2d(3, width, 3, padding=2), nn.BatchNorm2d(width)
            with torch.no_grad():
                conv.weight.copy_(net.conv.weight[start : start + width])
                conv.bias.copy_(net.conv.bias[start : start + width])
                bn.weight.copy_(net.bn.weight[start : start + width])
                bn.bias.copy_(net.bn.bias[start : start + width])
            self.streams.append(nn.Sequential(conv, nn.ReLU(), bn, nn.MaxPool2d(3, 3, 1)))
            start += width
        self.fc = copy.deepcopy(net.fc)

    def forward(self, x):
        x = torch.cat([s(x) for s in self.streams], dim=1)
        return self.fc(nn.functional.avg_pool2d(x, 2, 2).flatten(1))


def _pair(**kwargs):
    torch.manual_seed(0)
    fused = STSTNet(num_classes=3, dropout=0.0, **kwargs)
    with torch.no_grad():  # a non-trivial BatchNorm affine map
        fused.bn.weight.uniform_(0.5, 1.5)
        fused.bn.bias.uniform_(-0.5, 0.5)
    layers = copy.deepcopy(fused)
    layers.fused = False
    return fused, layers


def _step(net, x, y):
    net.train()
    net.zero_grad()
    logits = net(x)
    nn.functional.cross_entropy(logits, y).backward()
    return logits


def test_one_conv_of_sixteen_channels_is_the_three_streams():
    fused, _ = _pair()
    reference = ThreeStreams(fused)
    x, y = torch.rand(12, 3, 28, 28), torch.tensor([0, 1, 2] * 4)
    assert torch.allclose(_step(fused, x, y), _step(reference, x, y), atol=1e-5)
    grads = torch.cat([s[0].weight.grad for s in reference.streams])
    assert torch.allclose(fused.conv.weight.grad, grads, atol=1e-5)


@pytest.mark.parametrize("compiled", [False, True])  # the torch ops, and the C kernel where a compiler is
@pytest.mark.parametrize("negative_scale", [False, True])
def test_fused_training_step_matches_the_layers(negative_scale, compiled):
    fused, layers = _pair(compiled=compiled)
    if negative_scale:  # max pool does not commute with a negative scale: the layers run instead
        for net in (fused, layers):
            with torch.no_grad():
                net.bn.weight[3] = -0.7
    x, y = torch.rand(32, 3, 28, 28), torch.randint(0, 3, (32,))
    assert torch.allclose(_step(fused, x, y), _step(layers, x, y), atol=1e-5)
    for (name, a), b in zip(fused.named_parameters(), layers.parameters(), strict=True):
        assert torch.allclose(a.grad, b.grad, rtol=1e-4, atol=1e-6), name
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        assert torch.allclose(getattr(fused.bn, name).float(), getattr(layers.bn, name).float(), atol=1e-6), name
    fused.eval(), layers.eval()
    assert torch.allclose(fused(x), layers(x), atol=1e-5)


def test_dropout_masks_follow_the_generator():
    torch.manual_seed(0)
    net = STSTNet(num_classes=3).train()
    x = torch.rand(64, 3, 28, 28)
    outputs = []
    for _ in range(2):
        net.generator = torch.Generator().manual_seed(7)
        outputs.append(net(x))
    assert torch.equal(*outputs)
    pooled = torch.ones(10_000)
    kept = (net._drop(pooled) > 0).float().mean().item()
    assert abs(kept - 0.5) < 0.02
    assert torch.allclose(net._drop(pooled).mean(), torch.tensor(1.0), atol=0.05)
