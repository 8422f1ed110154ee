"""Training schedules against class imbalance: which samples each epoch draws, how classes weigh.

A schedule says, for each epoch, the sampling power ``q`` and the re-weighting power ``r``:
class ``c`` is drawn with probability proportional to ``n_c^q`` (``q = 1`` instance-balanced,
``q = 0.5`` square-root, ``q = 0`` class-balanced) and the loss weighs it by ``w_c^r``, where
``w_c`` are class-balanced weights of the training fold (``r = 0``: no re-weighting).

- ``Standard``: instance-balanced, no re-weighting.
- ``DeferredReweighting`` (DRW, Cao et al. 2019): plain until ``start_epoch``, then re-weighted.
- ``Progressive``: staged progressive learning. A first stage of instance-balanced sampling learns
  the representation; then over ``transition_epochs`` the sampling moves smoothly towards
  class-balanced and the re-weighting towards full, instead of two-stage methods' abrupt switch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

WEIGHTING = "effective"  # class-balanced weights: inverse effective number of samples (Cui et al. 2019)


@dataclass(frozen=True)
class EpochPlan:
    sampling_power: float = 1.0
    reweight_power: float = 0.0


class Standard:
    def plan(self, epoch: int) -> EpochPlan:
        return EpochPlan()


@dataclass(frozen=True)
class DeferredReweighting:
    start_epoch: int = 5

    def plan(self, epoch: int) -> EpochPlan:
        return EpochPlan(1.0, 1.0 if epoch >= self.start_epoch else 0.0)


@dataclass(frozen=True)
class Progressive:
    warmup_epochs: int = 2
    transition_epochs: int = 4
    shape: str = "cosine"

    def mix(self, epoch: int) -> float:
        """0 during the first stage, rising smoothly to 1 over the transition."""
        t = min(max((epoch - self.warmup_epochs + 1) / max(self.transition_epochs, 1), 0.0), 1.0)
        if self.shape == "linear":
            return t
        if self.shape == "cosine":
            return 0.5 - 0.5 * math.cos(math.pi * t)
        raise ValueError(f"unknown transition shape {self.shape!r}; use linear or cosine")

    def plan(self, epoch: int) -> EpochPlan:
        mix = self.mix(epoch)
        return EpochPlan(1.0 - mix, mix)


def class_frequencies(counts: Sequence[int], sampling_power: float) -> np.ndarray:
    """Expected share of each class among the samples drawn: ``n_c^q / sum n^q``."""
    n = np.asarray(counts, dtype=float)
    share = np.where(n > 0, n**sampling_power, 0.0)
    return share / share.sum()


def sample_weights(labels: Sequence[int], counts: Sequence[int], sampling_power: float) -> torch.Tensor:
    """Per-sample drawing weights giving :func:`class_frequencies`: ``n_c^(q - 1)``."""
    n = np.asarray(counts, dtype=float)
    return torch.as_tensor(n[np.asarray(labels)] ** (sampling_power - 1.0), dtype=torch.double)
