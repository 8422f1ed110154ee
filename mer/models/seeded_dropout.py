"""Dropout that draws its masks from a model's own generator.

Folds trained side by side in threads (``trainer.fold_workers``) share torch's global generator, so
masks drawn from it would depend on scheduling. The trainer sets ``model.generator`` to the fold's
seeded generator on any model that has the attribute; :class:`SeededDropouts` hands it to every
:class:`Dropout` and :class:`Dropout2d` inside, as STSTNet does for its one dropout.
"""

from __future__ import annotations

import torch
from torch import nn


class Dropout(nn.Dropout):
    """``nn.Dropout``, with masks from :attr:`generator` where one is set on the input's device
    (``rand < p`` drops); torch's global generator otherwise."""

    generator: torch.Generator | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        generator = self.generator
        if not self.training or self.p == 0 or generator is None or generator.device != x.device:
            return super().forward(x)
        keep = torch.empty_like(x).uniform_(generator=generator) >= self.p
        return x * keep * (1.0 / (1.0 - self.p))


class Dropout2d(nn.Dropout2d):
    """``nn.Dropout2d`` (whole channels of ``B x C x H x W``), with masks from :attr:`generator`
    where one is set on the input's device; torch's global generator otherwise."""

    generator: torch.Generator | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        generator = self.generator
        if not self.training or self.p == 0 or generator is None or generator.device != x.device:
            return super().forward(x)
        mask = torch.empty(x.shape[:2] + (1,) * (x.dim() - 2), dtype=x.dtype, device=x.device)
        keep = mask.uniform_(generator=generator) >= self.p
        return x * keep * (1.0 / (1.0 - self.p))


class SeededDropouts:
    """Mixin for a module whose randomness is all in :class:`Dropout` layers (or that has none):
    setting ``generator`` sets it on each of them."""

    @property
    def generator(self) -> torch.Generator | None:
        return self.__dict__.get("_generator")

    @generator.setter
    def generator(self, generator: torch.Generator | None) -> None:
        self.__dict__["_generator"] = generator
        for module in self.modules():
            if isinstance(module, Dropout | Dropout2d):
                module.generator = generator
