"""X3D and SlowFast from pytorchvideo's builders, shaped for the run's clips.

Only ``pytorchvideo.models`` is imported: ``pytorchvideo.transforms`` fails with current
torchvision. Both builders need the input size to size their pooling heads.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from pytorchvideo.models.slowfast import create_slowfast
from pytorchvideo.models.x3d import create_x3d
from torch import nn


def x3d(
    *,
    num_classes: int,
    num_frames: int,
    input_size: Sequence[int],
    width_factor: float = 2.0,
    depth_factor: float = 2.2,
    dropout: float = 0.5,
) -> nn.Module:
    """X3D (Feichtenhofer, CVPR 2020). XS and S share these factors and differ in their input
    (4 x 160 x 160 and 13 x 160 x 160); here the input is the run's own T x H x W."""
    if input_size[0] != input_size[1]:
        raise ValueError(f"x3d needs square frames, got {list(input_size)}")
    return create_x3d(
        input_clip_length=num_frames,
        input_crop_size=int(input_size[0]),
        model_num_class=num_classes,
        width_factor=width_factor,
        depth_factor=depth_factor,
        dropout_rate=dropout,
        head_activation=None,
    )


class SlowFast(nn.Module):
    """Feeds one clip to both pathways: the slow one sees every ``alpha``-th frame."""

    def __init__(self, net: nn.Module, alpha: int):
        super().__init__()
        self.net, self.alpha = net, alpha

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net([x[:, :, :: self.alpha], x])


def slowfast(
    *,
    num_classes: int,
    num_frames: int,
    input_size: Sequence[int],
    alpha: int = 4,
    width: int = 64,
    depth: int = 50,
    dropout: float = 0.5,
) -> nn.Module:
    """SlowFast R50 (Feichtenhofer et al., ICCV 2019); ``width`` is the slow stem's channels (64 in
    the paper; 32 or 16 give a light variant), the fast pathway has an eighth of them."""
    if num_frames % alpha:
        raise ValueError(f"slowfast needs num_frames divisible by alpha={alpha}, got {num_frames}")
    pool = [math.ceil(s / 32) for s in input_size]
    net = create_slowfast(
        model_depth=depth,
        model_num_class=num_classes,
        dropout_rate=dropout,
        stem_dim_outs=(width, max(width // 8, 1)),
        slowfast_fusion_conv_stride=(alpha, 1, 1),
        head_pool_kernel_sizes=((num_frames // alpha, *pool), (num_frames, *pool)),
        head_activation=None,
    )
    return SlowFast(net, alpha)
