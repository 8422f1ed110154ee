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


@dataclass(frozen=True)
class Augment:
    """Training augmentation on the device that keeps micro-motion: one draw per clip, the same for
    all its frames.

    ``hflip``: probability of a mirrored clip, ``negate_channels`` negated with it (the horizontal
    flow of flow inputs). ``scale``, ``rotate`` (degrees) and ``translate`` (a fraction of the side):
    ranges of one small random similarity per clip (bilinear, border pixels repeated), as random
    crops and rotations of a few percent. Zero ranges leave the clip as it is.
    """

    hflip: float = 0.0
    negate_channels: Sequence[int] = ()
    scale: float = 0.0
    rotate: float = 0.0
    translate: float = 0.0

    def __call__(self, x: torch.Tensor, norm: Normalization, generator: torch.Generator) -> torch.Tensor:
        if self.hflip > 0:
            flip = (torch.rand(x.shape[0], generator=generator) < self.hflip).to(x.device)
            mirrored = mirror(x, norm, self.negate_channels) if self.negate_channels else x.flip(-1)
            x = torch.where(flip.view(-1, *[1] * (x.dim() - 1)), mirrored, x)
        if self.scale > 0 or self.rotate > 0 or self.translate > 0:
            x = self._similarity(x, generator)
        return x

    def _similarity(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        b = x.shape[0]
        draw = torch.rand(b, 4, generator=generator) * 2 - 1
        scale = 1 + self.scale * draw[:, 0]
        angle = torch.deg2rad(self.rotate * draw[:, 1])
        cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
        theta = torch.stack(
            [
                torch.stack([cos, -sin, 2 * self.translate * draw[:, 2]], 1),
                torch.stack([sin, cos, 2 * self.translate * draw[:, 3]], 1),
            ],
            1,
        ).to(x)
        frames = x.flatten(1, -3)  # B x (C T) x H x W: one warp for every frame of a clip
        grid = torch.nn.functional.affine_grid(theta, list(frames.shape), align_corners=False)
        warped = torch.nn.functional.grid_sample(frames, grid, padding_mode="border", align_corners=False)
        return warped.view_as(x)
