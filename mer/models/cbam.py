"""R3D-18 with 3D CBAM attention in every residual block.

CBAM (Woo et al., ECCV 2018) re-weights channels, then space-time positions; the seeds' class
re-weighting framework uses it to win back the accuracy a class-penalised loss costs on the
frequent classes. The network is torchvision's ``VideoResNet`` with a block that inserts the
module before the residual sum, as in the CBAM paper.
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models.video.resnet import BasicBlock, BasicStem, Conv3DSimple, VideoResNet


class ChannelAttention3d(nn.Module):
    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.mlp = nn.Sequential(nn.Conv3d(channels, hidden, 1), nn.ReLU(inplace=True), nn.Conv3d(hidden, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        avg = self.mlp(x.mean(dim=(2, 3, 4), keepdim=True))
        peak = self.mlp(x.amax(dim=(2, 3, 4), keepdim=True))
        return x * torch.sigmoid(avg + peak)


class SpatioTemporalAttention3d(nn.Module):
    def __init__(self, kernel_size: int = 7):
        super().__init__()
        self.conv = nn.Conv3d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.conv(pooled))


class CBAM3d(nn.Module):
    """Channel attention, then spatial-temporal attention."""

    def __init__(self, channels: int, *, reduction: int = 16, kernel_size: int = 7):
        super().__init__()
        self.channel = ChannelAttention3d(channels, reduction)
        self.spatial = SpatioTemporalAttention3d(kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.spatial(self.channel(x))


class CBAMBasicBlock(BasicBlock):
    """torchvision's 3D basic block with CBAM on the residual branch."""

    def __init__(self, inplanes: int, planes: int, conv_builder: nn.Module, stride: int = 1, downsample=None):
        super().__init__(inplanes, planes, conv_builder, stride, downsample)
        self.cbam = CBAM3d(planes * self.expansion)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        return self.relu(self.cbam(self.conv2(self.conv1(x))) + residual)


def r3d_cbam(*, num_classes: int) -> VideoResNet:
    """R3D-18 with CBAM in each residual block, from scratch."""
    return VideoResNet(
        block=CBAMBasicBlock,
        conv_makers=[Conv3DSimple] * 4,
        layers=[2, 2, 2, 2],
        stem=BasicStem,
        num_classes=num_classes,
    )
