"""Imbalance-aware classification losses, each built from the training fold's class counts.

Every loss is a mean over the batch weighted by per-class weights ``w_y`` and normalised by their
sum (as ``torch.nn.functional.cross_entropy`` does with ``weight``), so weights shift emphasis
between classes without changing the loss scale. Weights are a buffer a schedule may replace each
epoch (deferred or progressive re-weighting).

- ``CrossEntropy``: optional label smoothing and class weights (``weighted_ce``: ``inverse``
  frequency or ``effective`` number of samples, Cui et al., CVPR 2019).
- ``FocalLoss``: ``(1 - p_t)^gamma`` down-weights easy samples (Lin et al., ICCV 2017); with
  ``effective`` weights it is the class-balanced focal loss (``cb_focal``).
- ``LDAMLoss``: the true-class logit minus a margin ``m_c`` proportional to ``n_c^(-1/4)`` (largest
  ``max_margin``), then scaled by ``s`` (Cao et al., NeurIPS 2019). The paper's ``s = 30`` multiplies
  the cosine logits of a normalised classifier, which lie in [-1, 1]; our models end in plain linear
  layers whose logits carry their own scale, so ``s`` defaults to 1 (30 on raw logits makes the
  softmax saturate and the gradients 30 times larger).
- ``CouplingRegulationLoss``: the focal term and the LDAM term coupled: the focal factor
  ``(1 - p_t)^gamma`` is taken on LDAM's margin-adjusted probabilities, and a correction factor
  ``p_t^delta`` regulates it, so that attention rises with difficulty but falls again for the few
  samples the model finds nearly impossible (``p_t < delta / (gamma + delta)``), which are mostly
  outliers and label noise. Our reading of the staged-progressive-learning paper's CRL (the seeds
  give its idea, not its formula).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

WEIGHTINGS = ("none", "inverse", "effective")


def class_weights(counts: Sequence[int], scheme: str = "effective", beta: float = 0.999) -> torch.Tensor:
    """Per-class weights summing to the number of classes present; absent classes weigh 0.

    ``inverse``: ``1 / n_c``. ``effective``: ``(1 - beta) / (1 - beta^n_c)``, the inverse of the
    effective number of samples. ``none``: all ones.
    """
    n = torch.as_tensor(counts, dtype=torch.float64)
    present = n > 0
    if scheme == "none":
        return torch.ones(len(n), dtype=torch.float32)
    if scheme == "inverse":
        raw = torch.where(present, 1.0 / n.clamp(min=1), torch.zeros_like(n))
    elif scheme == "effective":
        raw = torch.where(present, (1 - beta) / (1 - beta ** n.clamp(min=1)), torch.zeros_like(n))
    else:
        raise ValueError(f"unknown class weighting {scheme!r}; choose one of {', '.join(WEIGHTINGS)}")
    return (raw / raw.sum() * present.sum()).float()


class ClassAwareLoss(nn.Module):
    """Shared base: the fold's class counts and the current class weights."""

    def __init__(self, *, class_counts: Sequence[int], weighting: str = "none", beta: float = 0.999):
        super().__init__()
        self.register_buffer("counts", torch.as_tensor(class_counts, dtype=torch.float32))
        self.register_buffer("weight", class_weights(class_counts, weighting, beta))
        self.beta = beta

    def set_class_weights(self, weight: torch.Tensor) -> None:
        self.weight = weight.to(self.weight)

    def _weighted_mean(
        self, per_sample: torch.Tensor, target: torch.Tensor, sample_weight: torch.Tensor | None
    ) -> torch.Tensor:
        """Class-weighted mean; ``sample_weight`` scales single terms without entering the normaliser,
        so weights that average 1 over a batch (confidence weighting) keep the loss scale."""
        w = self.weight[target]
        terms = per_sample * w if sample_weight is None else per_sample * w * sample_weight
        return terms.sum() / w.sum().clamp(min=1e-12)


class CrossEntropy(ClassAwareLoss):
    def __init__(
        self, *, class_counts: Sequence[int], weighting: str = "none", beta: float = 0.999, label_smoothing: float = 0.0
    ):
        super().__init__(class_counts=class_counts, weighting=weighting, beta=beta)
        self.label_smoothing = label_smoothing

    def forward(
        self, logits: torch.Tensor, target: torch.Tensor, sample_weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        per_sample = F.cross_entropy(logits.float(), target, reduction="none", label_smoothing=self.label_smoothing)
        return self._weighted_mean(per_sample, target, sample_weight)


def _focal_terms(logits: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(log p_t, p_t)`` of the true class."""
    log_p = F.log_softmax(logits.float(), dim=1).gather(1, target[:, None]).squeeze(1)
    return log_p, log_p.exp()


class FocalLoss(ClassAwareLoss):
    def __init__(
        self, *, class_counts: Sequence[int], gamma: float = 2.0, weighting: str = "none", beta: float = 0.999
    ):
        super().__init__(class_counts=class_counts, weighting=weighting, beta=beta)
        self.gamma = gamma

    def forward(
        self, logits: torch.Tensor, target: torch.Tensor, sample_weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        log_p, p = _focal_terms(logits, target)
        return self._weighted_mean(-((1 - p) ** self.gamma) * log_p, target, sample_weight)


class LDAMLoss(ClassAwareLoss):
    def __init__(
        self,
        *,
        class_counts: Sequence[int],
        max_margin: float = 0.5,
        scale: float = 1.0,
        weighting: str = "none",
        beta: float = 0.999,
        label_smoothing: float = 0.0,
    ):
        super().__init__(class_counts=class_counts, weighting=weighting, beta=beta)
        n = self.counts.clamp(min=1)
        margins = n**-0.25
        self.register_buffer("margins", margins * (max_margin / margins.max()))
        self.scale, self.label_smoothing = scale, label_smoothing

    def margin_logits(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``s * (z - m_y e_y)``: the true class must win by its margin."""
        shift = F.one_hot(target, logits.shape[1]) * self.margins[target][:, None]
        return self.scale * (logits.float() - shift)

    def forward(
        self, logits: torch.Tensor, target: torch.Tensor, sample_weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        per_sample = F.cross_entropy(
            self.margin_logits(logits, target), target, reduction="none", label_smoothing=self.label_smoothing
        )
        return self._weighted_mean(per_sample, target, sample_weight)


class CouplingRegulationLoss(LDAMLoss):
    def __init__(
        self,
        *,
        class_counts: Sequence[int],
        gamma: float = 2.0,
        delta: float = 0.5,
        max_margin: float = 0.5,
        scale: float = 1.0,
        weighting: str = "none",
        beta: float = 0.999,
    ):
        super().__init__(class_counts=class_counts, max_margin=max_margin, scale=scale, weighting=weighting, beta=beta)
        self.gamma, self.delta = gamma, delta

    def forward(
        self, logits: torch.Tensor, target: torch.Tensor, sample_weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        log_p, p = _focal_terms(self.margin_logits(logits, target), target)
        factor = (1 - p) ** self.gamma * p.detach() ** self.delta
        return self._weighted_mean(-factor * log_p, target, sample_weight)
