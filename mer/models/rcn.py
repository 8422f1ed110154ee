"""RCN (Xia et al., "Revealing the Invisible With Model and Data Shrinking for Composite-Database
Micro-Expression Recognition", IEEE TIP 2020): a shallow recurrent convolutional network on the
onset-apex flow image, here its variant RCN-A, with the parameter-free attention unit.

As in the authors' public code (xiazhaoqiang/ParameterFreeRCNs-MicroExpressionRec, ``MeNets.py``
``RCN_A`` with ``model_version=3``, the training script's defaults): conv 5 x 5 (64, no padding) ->
BatchNorm -> ReLU -> max pool 2 -> dropout, one recurrent block (a 1 x 1 feed-forward conv, then one
3 x 3 conv applied twice with the block's input added back each time, each conv with BatchNorm and
ReLU; max pool 2, dropout), average pooled to 7 x 7 and classified by one linear layer. The
attention unit has no parameters of its own: the classifier's weights, read as one 64 x 7 x 7 map a
class, are laid over the pooled stem features, averaged over channels, min-max scaled per sample and
averaged over classes, and the resulting 7 x 7 map weights the features the classifier sees.

What we could not confirm: which of the paper's variants (RCN-A, -S, -W, -P, -C, -F) the published
composite figure belongs to (we build the training script's default, RCN-A), and the input size the
authors fed (their flow images were prepared offline; we take the composite's 28 x 28, on which the
stem's 6 x 6 map is average-pooled up to 7 x 7).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mer.models.seeded_dropout import Dropout, SeededDropouts


def _conv_bn_relu(c_in: int, c_out: int, kernel: int, padding: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel, padding=padding), nn.BatchNorm2d(c_out), nn.ReLU())


class RecurrentBlock(nn.Module):
    """``y = f(x + ff(x))``, then ``y = f(x + y)`` with the same 3 x 3 conv ``f``, max pool 2, dropout."""

    def __init__(self, channels: int, dropout: float = 0.5):
        super().__init__()
        self.feed_forward = _conv_bn_relu(channels, channels, 1, 0)
        self.recurrent = _conv_bn_relu(channels, channels, 3, 1)
        self.downsample = nn.Sequential(nn.MaxPool2d(2), Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.recurrent(x + self.feed_forward(x))
        return self.downsample(self.recurrent(x + y))


def class_weight_attention(features: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``B x 1 x P x P``: each class's classifier weights (``K x C*P*P``) times the ``B x C x P x P``
    features, averaged over channels, min-max scaled per sample, averaged over classes."""
    b, c, p, q = features.shape
    maps = (features.unsqueeze(1) * weight.view(1, -1, c, p, q)).mean(dim=2)  # B x K x P x P
    maps = maps - maps.amin(dim=(2, 3), keepdim=True)
    maps = maps / maps.amax(dim=(2, 3), keepdim=True).clamp_min(1e-12)
    return maps.mean(dim=1, keepdim=True)


class RCN(SeededDropouts, nn.Module):
    def __init__(
        self,
        *,
        num_classes: int,
        in_channels: int = 3,
        featuremaps: int = 64,
        num_layers: int = 1,
        pool_size: int = 7,
        dropout: float = 0.5,
    ):
        super().__init__()
        self.stem = nn.Sequential(_conv_bn_relu(in_channels, featuremaps, 5, 0), nn.MaxPool2d(2), Dropout(dropout))
        self.blocks = nn.Sequential(*(RecurrentBlock(featuremaps, dropout) for _ in range(num_layers)))
        self.pool_size = pool_size
        self.classifier = nn.Linear(pool_size * pool_size * featuremaps, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``B x C x 1 x H x W`` (a flow image as a one-frame clip) or ``B x C x H x W``."""
        if x.dim() == 5:
            x = x.squeeze(2)
        x = self.stem(x)
        size = (self.pool_size, self.pool_size)
        attention = class_weight_attention(F.adaptive_avg_pool2d(x, size), self.classifier.weight)
        x = F.adaptive_avg_pool2d(self.blocks(x), size) * attention
        return self.classifier(x.flatten(1))
