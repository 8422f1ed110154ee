"""Late fusion: several models, each trained on its own loss, predicting the mean of their class
probabilities.

The trainer calls :meth:`Ensemble.training_loss` (its hook for models that compute their own loss):
the sum of each member's loss on its own logits, and the fused prediction for the training
accuracy. The members share no parameter, so each gets the gradient of its own loss only, and with
a per-parameter optimizer (Adam, SGD) one joint step is the step each member would take trained
alone on the same batch: the ensemble trains its members fold by fold under one protocol and one
recipe (optimizer, lr, batch, epochs), side by side, and nothing in training couples them.
:meth:`forward` returns the log of the mean member probability, whose softmax (what ``predict``
takes) is that mean again.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import torch
from torch import nn

Member = nn.Module | Callable[..., nn.Module]


class Ensemble(nn.Module):
    def __init__(self, *, num_classes: int, members: Mapping[str, Member] | Sequence[Member]):
        """``members``: built models, or builders (Hydra ``_partial_: true`` model configs) that
        get ``num_classes``; by name (a mapping) or in order."""
        super().__init__()
        named = members.items() if isinstance(members, Mapping) else ((str(i), m) for i, m in enumerate(members))
        self.members = nn.ModuleDict(
            {name: m if isinstance(m, nn.Module) else m(num_classes=num_classes) for name, m in named}
        )
        if not self.members:
            raise ValueError("an ensemble needs at least one member")

    @property
    def generator(self) -> torch.Generator | None:
        """Shared with every member; present only if every member draws from one (STSTNet, ...)."""
        if not all(hasattr(m, "generator") for m in self.members.values()):
            raise AttributeError("generator: not every member draws its dropout from its own generator")
        return self.__dict__.get("_generator")

    @generator.setter
    def generator(self, generator: torch.Generator | None) -> None:
        self.__dict__["_generator"] = generator
        for member in self.members.values():
            member.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``B x K``: log of the mean of the members' class probabilities."""
        return _fused([m(x) for m in self.members.values()])

    def training_loss(
        self, x: torch.Tensor, y: torch.Tensor, index: torch.Tensor, loss_fn: nn.Module
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The sum of the members' own losses, and the fused logits (``index`` is not needed)."""
        logits = [m(x) for m in self.members.values()]
        with torch.no_grad():
            fused = _fused([z.detach() for z in logits])
        return sum(loss_fn(z, y) for z in logits), fused

    def end_epoch(self, epoch: int) -> None:
        """Nothing to update between epochs (the trainer's hook for models with their own loss)."""


def _fused(logits: Sequence[torch.Tensor]) -> torch.Tensor:
    """Log of the mean of the members' class probabilities, from their logits."""
    log_probs = torch.stack([z.float().log_softmax(dim=1) for z in logits])
    return torch.logsumexp(log_probs, dim=0) - math.log(len(logits))
