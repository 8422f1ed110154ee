"""Dropout that draws its masks from a model's own generator.

Folds trained side by side in threads (``trainer.fold_workers``) share torch's global generator, so
masks drawn from it would depend on scheduling. The trainer sets ``model.generator`` to the fold's
seeded generator on any model that has the attribute; :class:`SeededDropouts` hands it to every
:class:`Dropout` and :class:`Dropout2d` inside, as STSTNet does for its one dropout.

Fused folds (:mod:`mer.training.fused`) run every fold's model inside ``torch.func.vmap``, which
takes no generator: there each fold's uniforms are drawn outside, from the fold's own generator in
the order it would draw them alone, and handed in (:func:`supplied_noise`), so a fused fold drops
what it drops alone. :func:`recorded_noise` lists which draws a forward pass makes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import torch
from torch import nn

_SUPPLIED: ContextVar[Iterator[torch.Tensor] | None] = ContextVar("supplied dropout noise", default=None)
_RECORDED: ContextVar[list | None] = ContextVar("recorded dropout noise", default=None)


@dataclass(frozen=True)
class Draw:
    """One dropout layer's uniforms: their shape and whether they lie channels-last in memory."""

    shape: tuple[int, ...]
    channels_last: bool

    def draw(self, generator: torch.Generator, device: torch.device) -> torch.Tensor:
        layout = torch.channels_last if self.channels_last else torch.contiguous_format
        return torch.empty(self.shape, device=device, memory_format=layout).uniform_(generator=generator)


@contextmanager
def supplied_noise(noise: Sequence[torch.Tensor]):
    """Dropout layers take their uniforms from ``noise``, in call order."""
    token = _SUPPLIED.set(iter(noise))
    try:
        yield
    finally:
        _SUPPLIED.reset(token)


@contextmanager
def recorded_noise():
    """The :class:`Draw` list of the forward passes run inside (the masks drawn are throwaway)."""
    draws: list[Draw] = []
    token = _RECORDED.set(draws)
    try:
        yield draws
    finally:
        _RECORDED.reset(token)


def uniform_noise(x: torch.Tensor, shape: Sequence[int], generator: torch.Generator | None) -> torch.Tensor | None:
    """The uniforms a mask of ``shape`` over ``x`` is drawn from: supplied or recorded ones where a
    context says so, else drawn from ``generator`` in ``x``'s memory layout; None when there is no
    generator for ``x``'s device (the caller uses torch's own dropout)."""
    supplied = _SUPPLIED.get()
    if supplied is not None:
        return next(supplied)
    recorded = _RECORDED.get()
    if recorded is None and (generator is None or generator.device != x.device):
        return None  # before any layout query: under vmap only the contiguous one is answered
    last = x.dim() == 4 and tuple(shape) == tuple(x.shape) and not x.is_contiguous()
    draw = Draw(tuple(shape), last and x.is_contiguous(memory_format=torch.channels_last))
    if recorded is not None:
        recorded.append(draw)
        return torch.rand(draw.shape, device=x.device)
    return draw.draw(generator, x.device)


def dropped(x: torch.Tensor, p: float, noise: torch.Tensor) -> torch.Tensor:
    """``x`` with the entries whose uniform is below ``p`` dropped and the rest scaled up."""
    return x * (noise >= p) * (1.0 / (1.0 - p))


class Dropout(nn.Dropout):
    """``nn.Dropout``, with masks from :attr:`generator` where one is set on the input's device
    (``rand < p`` drops); torch's global generator otherwise."""

    generator: torch.Generator | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        noise = uniform_noise(x, x.shape, self.generator)
        return super().forward(x) if noise is None else dropped(x, self.p, noise)


class Dropout2d(nn.Dropout2d):
    """``nn.Dropout2d`` (whole channels of ``B x C x H x W``), with masks from :attr:`generator`
    where one is set on the input's device; torch's global generator otherwise."""

    generator: torch.Generator | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        noise = uniform_noise(x, x.shape[:2] + (1,) * (x.dim() - 2), self.generator)
        return super().forward(x) if noise is None else dropped(x, self.p, noise)


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
