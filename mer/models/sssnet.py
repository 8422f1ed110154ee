"""SSSNet, the Shallow Single-Stream network (Varanka, Peng and Zhao, "Micro-expression recognition
with noisy labels", IS&T Electronic Imaging 2021), the MEB toolkit's flow-image baseline.

Conv 5 x 5 (32) -> ReLU -> max pool 3/3 -> BatchNorm -> channel dropout; conv 3 x 3 (64) -> ReLU ->
max pool 2 -> BatchNorm -> channel dropout; a hidden layer of 256 with ReLU and dropout; a linear
classifier (no padding anywhere, as MEB's ``SSSNet``). MEB fed 64 x 64 flow images (a 9 x 9 map
before the hidden layer); the hidden layer here is sized from ``input_size``, so the composite's
28 x 28 images give a 3 x 3 map.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from mer.models.seeded_dropout import Dropout, Dropout2d, SeededDropouts


class SSSNet(SeededDropouts, nn.Module):
    def __init__(
        self,
        *,
        num_classes: int,
        input_size: Sequence[int] = (64, 64),
        in_channels: int = 3,
        widths: Sequence[int] = (32, 64, 256),
        dropout: float = 0.5,
    ):
        super().__init__()
        c1, c2, hidden = widths
        self.conv1, self.bn1 = nn.Conv2d(in_channels, c1, kernel_size=5), nn.BatchNorm2d(c1)
        self.conv2, self.bn2 = nn.Conv2d(c1, c2, kernel_size=3), nn.BatchNorm2d(c2)
        self.drop1, self.drop2, self.drop3 = Dropout2d(dropout), Dropout2d(dropout), Dropout(dropout)
        side = [((s - 4) // 3 - 2) // 2 for s in input_size]
        if min(side) < 1:
            raise ValueError(f"SSSNet needs inputs of at least 12 x 12 pixels, not {list(input_size)}")
        self.fc1 = nn.Linear(c2 * side[0] * side[1], hidden)
        self.fc = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``B x C x 1 x H x W`` (one flow image as a one-frame clip) or ``B x C x H x W``."""
        if x.dim() == 5:
            x = x.squeeze(2)
        x = self.drop1(self.bn1(F.max_pool2d(F.relu(self.conv1(x)), 3)))
        x = self.drop2(self.bn2(F.max_pool2d(F.relu(self.conv2(x)), 2)))
        return self.fc(self.drop3(F.relu(self.fc1(x.flatten(1)))))
