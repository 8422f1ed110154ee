"""Confidence weighting and feature-template re-labelling (ULC-AG, MTAC).

A one-layer branch scores every sample's confidence ``alpha`` in (0, 1) from its pooled features;
the batch's classification terms are weighted by ``alpha / mean(alpha)``, so the loss scale stays
and uncertain samples count less. A rank regularisation (from SCN, Wang et al., CVPR 2020, which
both build on) keeps the most confident ``high_fraction`` of a batch at least ``margin`` above the
rest on average, so the scores cannot all settle at one value.

Re-labelling: from ``relabel_start`` on, after every epoch, class templates are the mean normalised
features of the confident samples (confidence above the median) of each class; a sample among the
least confident ``relabel_fraction`` whose features are closer (cosine) to another class's
template than to its own label's, by more than ``relabel_margin``, takes that class as its label.
The state holds only the training samples of the fold, by their position in the training set, so
a held-out subject can never be re-labelled.
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
from torch import nn

log = logging.getLogger(__name__)


class ConfidenceWeighting(nn.Module):
    def __init__(
        self,
        dim: int,
        *,
        labels: torch.Tensor,
        num_classes: int,
        high_fraction: float = 0.7,
        margin: float = 0.15,
        relabel: bool = False,
        relabel_start: int = 0,
        relabel_fraction: float = 0.1,
        relabel_margin: float = 0.2,
    ):
        super().__init__()
        self.score = nn.Linear(dim, 1)
        self.num_classes = num_classes
        self.high_fraction, self.margin = high_fraction, margin
        self.relabel, self.relabel_start = relabel, relabel_start
        self.relabel_fraction, self.relabel_margin = relabel_fraction, relabel_margin
        self.register_buffer("original", labels.clone())
        self.register_buffer("labels", labels.clone())
        self.register_buffer("memory", torch.zeros(len(labels), dim))
        self.register_buffer("memory_confidence", torch.zeros(len(labels)))
        self.register_buffer("seen", torch.zeros(len(labels), dtype=torch.bool))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``B`` confidences in (0, 1)."""
        return torch.sigmoid(self.score(features.float())).squeeze(1)

    @staticmethod
    def sample_weights(confidence: torch.Tensor) -> torch.Tensor:
        return confidence / confidence.mean().clamp(min=1e-6)

    def rank_loss(self, confidence: torch.Tensor) -> torch.Tensor:
        """``max(0, margin - (mean of the high group - mean of the low group))``."""
        n = len(confidence)
        k = int(round(self.high_fraction * n))
        if not 0 < k < n:
            return confidence.sum() * 0.0
        ordered = confidence.sort(descending=True).values
        return F.relu(self.margin - (ordered[:k].mean() - ordered[k:].mean()))

    def targets(self, index: torch.Tensor) -> torch.Tensor:
        """The current (possibly re-labelled) labels of the training samples ``index``."""
        return self.labels[index]

    @torch.no_grad()
    def record(self, index: torch.Tensor, features: torch.Tensor, confidence: torch.Tensor) -> None:
        self.memory[index] = F.normalize(features.float(), dim=1)
        self.memory_confidence[index] = confidence.float()
        self.seen[index] = True

    @torch.no_grad()
    def end_epoch(self, epoch: int) -> int:
        """Re-label after ``epoch`` if the warm-up is over; returns how many labels changed."""
        if not self.relabel or epoch < self.relabel_start or not bool(self.seen.any()):
            return 0
        seen = self.seen.nonzero().squeeze(1)
        features, confidence, labels = self.memory[seen], self.memory_confidence[seen], self.labels[seen]
        confident = confidence >= confidence.median()
        templates = torch.zeros(self.num_classes, features.shape[1], device=features.device)
        templates.index_add_(0, labels[confident], features[confident])
        has_template = torch.bincount(labels[confident], minlength=self.num_classes) > 0
        templates = F.normalize(templates, dim=1)
        similarity = features @ templates.T
        similarity[:, ~has_template] = -float("inf")
        own = similarity.gather(1, labels[:, None]).squeeze(1)
        others = similarity.scatter(1, labels[:, None], -float("inf"))
        best, best_class = others.max(dim=1)
        k = max(1, int(self.relabel_fraction * len(seen)))
        uncertain = torch.zeros_like(confident)
        uncertain[confidence.argsort()[:k]] = True
        change = uncertain & has_template[labels] & (best - own > self.relabel_margin)
        self.labels[seen[change]] = best_class[change]
        if bool(change.any()):
            log.debug("epoch %d: %d training samples re-labelled", epoch, int(change.sum()))
        return int(change.sum())

    def relabelled(self) -> dict[int, tuple[int, int]]:
        """Training-set position -> (original label, current label) of every sample whose label changed."""
        changed = (self.labels != self.original).nonzero().squeeze(1).tolist()
        return {i: (int(self.original[i]), int(self.labels[i])) for i in changed}
