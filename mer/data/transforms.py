"""Batch transforms applied on the training device, after the uint8 copy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Normalization:
    """How uint8 frames become model input.

    ``subtract_first_frame`` feeds each frame's change from the clip's first sampled frame (the
    onset for onset-anchored sampling) instead of the frame itself: the subject's appearance
    cancels and the subtle motion that carries the class remains, which lets a 3D CNN trained from
    scratch learn from few subjects. The difference is divided by ``std`` only.
    """

    mean: Sequence[float] = (0.45, 0.45, 0.45)
    std: Sequence[float] = (0.225, 0.225, 0.225)
    subtract_first_frame: bool = False


def to_model_input(batch: torch.Tensor, norm: Normalization) -> torch.Tensor:
    """``B x T x H x W x C`` uint8 to normalised float ``B x C x T x H x W``."""
    x = batch.permute(0, 4, 1, 2, 3).float().div_(255.0)
    std = torch.as_tensor(norm.std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1, 1)
    if norm.subtract_first_frame:
        return (x - x[:, :, :1]).div_(std)
    mean = torch.as_tensor(norm.mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1, 1)
    return x.sub_(mean).div_(std)


def random_hflip(x: torch.Tensor, p: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Mirror each clip of ``B x C x T x H x W`` left-right with probability ``p``."""
    if p <= 0:
        return x
    flip = (torch.rand(x.shape[0], generator=generator) < p).to(x.device)
    return torch.where(flip.view(-1, 1, 1, 1, 1), x.flip(-1), x)


def mirror(x: torch.Tensor, norm: Normalization, negate_channels: Sequence[int] = ()) -> torch.Tensor:
    """Model input ``B x C x T x H x W`` (or ``B x C x H x W``) mirrored left-right.

    Mirroring a face negates its horizontal motion: ``negate_channels`` name the channels that hold
    it, stored as flow images do (each image min-max scaled to 0-255, so the mirror of a value ``p``
    is ``255 - p``). Here that map is applied in normalised units.
    """
    out = x.flip(-1)
    for c in negate_channels:
        if norm.subtract_first_frame:
            out[:, c] = -out[:, c]
        else:
            out[:, c] = (1 - 2 * norm.mean[c]) / norm.std[c] - out[:, c]
    return out
