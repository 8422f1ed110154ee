"""Erasing attention consistency (EAC; Zhang, Wang, Li and Deng, ECCV 2022).

Each training input is randomly erased (one rectangle, the same in every frame) and fed together
with its left-right mirror; beside the classification loss on both, the class activation maps of the
erased input must equal the mirrored maps of its mirror. A model that memorises a noisy label
through one local feature cannot keep that feature's evidence consistent under erasing and
mirroring, so the loss steers it to the whole face.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def random_erase(
    x: torch.Tensor,
    generator: torch.Generator | None = None,
    *,
    scale: tuple[float, float] = (0.02, 0.25),
    ratio: tuple[float, float] = (0.3, 3.3),
) -> torch.Tensor:
    """``x`` (``B x C x [T x] H x W``) with one rectangle per sample set to 0 (the normalised mean).

    Its area is a fraction in ``scale`` of the frame and its aspect ratio (height / width) in
    ``ratio``, log-uniform, as torchvision's ``RandomErasing``; vectorised over the batch.
    """
    b, h, w = x.shape[0], x.shape[-2], x.shape[-1]
    u = torch.rand(b, 4, generator=generator, device=generator.device if generator is not None else None).cpu()
    area = (scale[0] + (scale[1] - scale[0]) * u[:, 0]) * h * w
    aspect = torch.exp(math.log(ratio[0]) + (math.log(ratio[1]) - math.log(ratio[0])) * u[:, 1])
    eh = (area * aspect).sqrt().round().clamp(1, h)
    ew = (area / aspect).sqrt().round().clamp(1, w)
    top = ((h - eh + 1) * u[:, 2]).floor()
    left = ((w - ew + 1) * u[:, 3]).floor()
    rows, cols = torch.arange(h), torch.arange(w)
    inside_rows = (rows >= top[:, None]) & (rows < (top + eh)[:, None])
    inside_cols = (cols >= left[:, None]) & (cols < (left + ew)[:, None])
    keep = ~(inside_rows[:, :, None] & inside_cols[:, None, :])
    shape = (b,) + (1,) * (x.dim() - 3) + (h, w)
    return x * keep.view(shape).to(x.device, x.dtype)


def flip_consistency(maps: torch.Tensor, maps_of_mirror: torch.Tensor) -> torch.Tensor:
    """Mean squared difference between the maps of an input and the mirrored maps of its mirror."""
    return F.mse_loss(maps.float(), maps_of_mirror.float().flip(-1))
