"""Dual-Inception (Zhou et al., "Dual-Inception Network for Cross-Database Micro-Expression
Recognition", FG 2019, MEGC 2019): one two-level Inception stream over the onset-apex horizontal
flow and one over the vertical flow, their features joined by a fully connected layer of 1024.

As in the authors' public Keras code (xly135846/MEGC2019, ``dual_inception.py``): each Inception
module has four branches of equal width (1 x 1; 1 x 1 then 3 x 3; 1 x 1 then 5 x 5; max pool 3 / 1
then 1 x 1), each conv followed by ReLU; 6 a branch in the first module, 16 in the second, each
module followed by max pool 2; no dropout; Glorot-uniform weights and zero biases (Keras's defaults).

What we could not confirm: the public code reads each flow component as a 3-channel image; we give
each stream its one channel of the composite's flow image (``flow_channels``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from mer.models.seeded_dropout import SeededDropouts


def _conv(c_in: int, c_out: int, kernel: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2), nn.ReLU())


class Inception(nn.Module):
    """Four branches of ``width`` channels each, concatenated: ``4 * width`` out, same size."""

    def __init__(self, in_channels: int, width: int):
        super().__init__()
        self.branches = nn.ModuleList(
            [
                _conv(in_channels, width, 1),
                nn.Sequential(_conv(in_channels, width, 1), _conv(width, width, 3)),
                nn.Sequential(_conv(in_channels, width, 1), _conv(width, width, 5)),
                nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), _conv(in_channels, width, 1)),
            ]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.branches], dim=1)


def inception_stream(in_channels: int = 1, widths: Sequence[int] = (6, 16)) -> nn.Sequential:
    """Inception modules of the given branch widths, each followed by max pool 2, then flattened."""
    layers: list[nn.Module] = []
    for width in widths:
        layers += [Inception(in_channels, width), nn.MaxPool2d(2)]
        in_channels = 4 * width
    return nn.Sequential(*layers, nn.Flatten())


class DualInception(SeededDropouts, nn.Module):
    def __init__(
        self,
        *,
        num_classes: int,
        input_size: Sequence[int] = (28, 28),
        flow_channels: Sequence[int] = (0, 1),
        widths: Sequence[int] = (6, 16),
        hidden: int = 1024,
    ):
        super().__init__()
        self.flow_channels = tuple(flow_channels)
        self.streams = nn.ModuleList(inception_stream(1, widths) for _ in self.flow_channels)
        side = 2 ** len(widths)
        features = 4 * widths[-1] * (input_size[0] // side) * (input_size[1] // side) * len(self.flow_channels)
        self.head = nn.Sequential(nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``B x C x 1 x H x W`` (a flow image as a one-frame clip) or ``B x C x H x W``; the
        ``flow_channels`` of C are the horizontal and vertical flow."""
        if x.dim() == 5:
            x = x.squeeze(2)
        streams = zip(self.streams, self.flow_channels, strict=True)
        return self.head(torch.cat([stream(x[:, c : c + 1]) for stream, c in streams], dim=1))
