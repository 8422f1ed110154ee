"""OFF-ApexNet (Gan, Liong et al., "OFF-ApexNet on Micro-expression Recognition System", Signal
Processing: Image Communication 2019): two CNN streams, one over the onset-apex horizontal flow and
one over the vertical flow, each conv 5x5 (6) -> max pool 2 -> conv 5x5 (16) -> max pool 2, their
features joined by two fully connected layers of 1024 units with dropout.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from mer.models.seeded_dropout import Dropout, SeededDropouts


def _stream() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, kernel_size=5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
    )


class OffApexNet(SeededDropouts, nn.Module):
    def __init__(
        self,
        *,
        num_classes: int,
        input_size: Sequence[int] = (28, 28),
        flow_channels: Sequence[int] = (0, 1),
        hidden: int = 1024,
        dropout: float = 0.5,
    ):
        super().__init__()
        self.flow_channels = tuple(flow_channels)
        self.streams = nn.ModuleList(_stream() for _ in self.flow_channels)
        features = 16 * (input_size[0] // 4) * (input_size[1] // 4) * len(self.flow_channels)
        self.head = nn.Sequential(
            nn.Linear(features, hidden),
            nn.ReLU(),
            Dropout(dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``B x C x 1 x H x W`` (a flow image as a one-frame clip) or ``B x C x H x W``; the
        ``flow_channels`` of C are the horizontal and vertical flow."""
        if x.dim() == 5:
            x = x.squeeze(2)
        streams = zip(self.streams, self.flow_channels, strict=True)
        return self.head(torch.cat([stream(x[:, c : c + 1]) for stream, c in streams], dim=1))
