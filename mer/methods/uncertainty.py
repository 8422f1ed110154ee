"""Uncertainty-feature mixing, after Relative Uncertainty Learning (Zhang, Wang and Deng, NeurIPS 2021)
as the seeds' ResNet + CBAM + class-penalty framework uses it.

A small branch gives every sample an uncertainty ``u > 0``. In training, each sample's pooled
features are mixed with those of a random partner from the batch, the one with the lower
uncertainty weighing more (``lam = u_partner / (u_self + u_partner)``), and the mixed feature must
predict both labels in proportion (``lam * loss(y_self) + (1 - lam) * loss(y_partner)``). A sample
whose label the features contradict lowers the loss by raising its own uncertainty, which hands its
share of the mixed target to the partner: noisy labels lose their pull. Only relative uncertainties
enter, so their scale cannot collapse. Prediction uses the plain classifier on unmixed features.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class UncertaintyMixing(nn.Module):
    def __init__(self, dim: int, hidden: int = 64):
        super().__init__()
        self.branch = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def uncertainty(self, features: torch.Tensor) -> torch.Tensor:
        """``B`` positive uncertainties."""
        return F.softplus(self.branch(features.float())).squeeze(1) + 1e-6

    def loss(
        self,
        features: torch.Tensor,
        target: torch.Tensor,
        *,
        classifier: nn.Module,
        loss_fn: nn.Module,
        partner: torch.Tensor,
        sample_weight: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The mixed-feature loss; ``partner[i]`` is the batch position sample ``i`` is mixed with."""
        u = self.uncertainty(features)
        lam = u[partner] / (u + u[partner])
        mixed = lam[:, None] * features + (1 - lam[:, None]) * features[partner]
        logits = classifier(mixed)
        weight = torch.ones_like(lam) if sample_weight is None else sample_weight
        return loss_fn(logits, target, sample_weight=lam * weight) + loss_fn(
            logits, target[partner], sample_weight=(1 - lam) * weight[partner]
        )
