"""STSTNet (Liong et al., FG 2019): three shallow conv streams of 3, 5 and 8 channels over the
onset-apex flow image (horizontal flow, vertical flow, optical strain), about 1.7 k parameters."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class STSTNet(nn.Module):
    def __init__(
        self, *, num_classes: int, input_size: Sequence[int] = (28, 28), in_channels: int = 3, dropout: float = 0.5
    ):
        super().__init__()
        self.streams = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(in_channels, width, kernel_size=3, padding=2),
                nn.ReLU(),
                nn.BatchNorm2d(width),
                nn.MaxPool2d(kernel_size=3, stride=3, padding=1),
                nn.Dropout(dropout),
            )
            for width in (3, 5, 8)
        )
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)
        side = [((s + 2 - 3 + 2) // 3 + 1) // 2 for s in input_size]  # conv (pad 2), max pool /3, avg pool /2
        self.fc = nn.Linear(16 * side[0] * side[1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``B x C x 1 x H x W`` (one flow image as a one-frame clip) or ``B x C x H x W``."""
        if x.dim() == 5:
            x = x.squeeze(2)
        x = self.pool(torch.cat([stream(x) for stream in self.streams], dim=1))
        return self.fc(x.flatten(1))
