"""R3D, the 3D ResNet of Tran et al. (CVPR 2018), with its widths, depth and stem as parameters.

torchvision's ``r3d_18`` (33 M parameters, widths 64-512, a stem that assumes 112 x 112 frames) is
far too big to train from scratch on the 100-400 clips of a micro-expression database, and too slow
for a 2-core CPU. The same architecture with widths 16-128 and one block a stage (0.9 M
parameters) on 8 x 28 x 28 flow clips is the recipe measured on CASME II (``docs/clip_models.md``);
``widths=(64, 128, 256, 512), blocks=(2, 2, 2, 2)`` with a 112 x 112 input is r3d-18 again.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def conv_bn(c_in: int, c_out: int, *, kernel: Sequence[int], stride: Sequence[int]) -> list[nn.Module]:
    padding = [k // 2 for k in kernel]
    return [nn.Conv3d(c_in, c_out, tuple(kernel), tuple(stride), tuple(padding), bias=False), nn.BatchNorm3d(c_out)]


class BasicBlock(nn.Module):
    """Two 3 x 3 x 3 convolutions with a residual; a strided 1 x 1 x 1 projection where the shape changes."""

    def __init__(self, c_in: int, c_out: int, stride: Sequence[int]):
        super().__init__()
        self.body = nn.Sequential(
            *conv_bn(c_in, c_out, kernel=(3, 3, 3), stride=stride),
            nn.ReLU(inplace=True),
            *conv_bn(c_out, c_out, kernel=(3, 3, 3), stride=(1, 1, 1)),
        )
        reshape = c_in != c_out or any(s != 1 for s in stride)
        self.shortcut = nn.Sequential(*conv_bn(c_in, c_out, kernel=(1, 1, 1), stride=stride)) if reshape else None
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.shortcut is None else self.shortcut(x)
        return self.relu(self.body(x) + identity)


class R3D(nn.Module):
    """``B x C x T x H x W`` clips to ``B x num_classes`` logits.

    Args:
        widths: channels of the four stages.
        blocks: residual blocks per stage.
        stem_kernel, stem_stride: the first convolution; stages 2-4 halve time and space.
        dropout: before the classifier (small sets overfit without it).
    """

    def __init__(
        self,
        *,
        num_classes: int,
        in_channels: int = 3,
        widths: Sequence[int] = (16, 32, 64, 128),
        blocks: Sequence[int] = (1, 1, 1, 1),
        stem_kernel: Sequence[int] = (3, 3, 3),
        stem_stride: Sequence[int] = (1, 2, 2),
        dropout: float = 0.5,
    ):
        super().__init__()
        if len(widths) != 4 or len(blocks) != 4:
            raise ValueError(f"R3D has four stages: got widths={list(widths)}, blocks={list(blocks)}")
        self.stem = nn.Sequential(
            *conv_bn(in_channels, widths[0], kernel=stem_kernel, stride=stem_stride), nn.ReLU(inplace=True)
        )
        stages, c_in = [], widths[0]
        for index, (width, count) in enumerate(zip(widths, blocks, strict=True)):
            for b in range(count):
                stride = (2, 2, 2) if index > 0 and b == 0 else (1, 1, 1)
                stages.append(BasicBlock(c_in, width, stride))
                c_in = width
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(c_in, num_classes)
        self.feature_channels = c_in
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    # The parts the training methods (mer.methods) need: map, pooled features, classifier.
    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(self.stem(x))

    def embed(self, fmap: torch.Tensor) -> torch.Tensor:
        return self.pool(fmap).flatten(1)

    @property
    def classifier(self) -> nn.Linear:
        return self.fc

    def class_maps(self, fmap: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bcthw,kc->bkthw", fmap, self.fc.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(self.embed(self.feature_map(x))))
