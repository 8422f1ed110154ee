"""Auxiliary action-unit head (MTAC, ULC-AG): multi-label AU detection from the pooled features,
trained beside the emotion head where the annotations carry AUs.

The AU vocabulary and the co-occurrence graph come from the training fold only. With ``graph``
the AU classifiers are produced by two graph-convolution layers over the AU co-occurrence graph
(as ML-GCN, Chen et al., CVPR 2019, with learned node embeddings), so AUs that occur together
share evidence; otherwise the head is one linear layer. Samples without any AU annotation are
masked out of the AU loss.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from mer.data.annotations import au_set, au_sort_key


def au_vocabulary(aus: Sequence[Sequence[str]], min_count: int = 1) -> list[str]:
    """AUs occurring in at least ``min_count`` samples, in numeric order."""
    counts = Counter(a for sample in aus for a in au_set(sample))
    return sorted((a for a, n in counts.items() if n >= min_count), key=au_sort_key)


def au_targets(aus: Sequence[Sequence[str]], vocabulary: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(N x A multi-hot, N mask)``; the mask is False for samples with no AU annotation at all."""
    index = {a: i for i, a in enumerate(vocabulary)}
    targets = torch.zeros(len(aus), len(vocabulary))
    for row, sample in enumerate(aus):
        for a in au_set(sample):
            if a in index:
                targets[row, index[a]] = 1.0
    mask = torch.tensor([bool(au_set(sample)) for sample in aus])
    return targets, mask


def cooccurrence_graph(targets: torch.Tensor, threshold: float = 0.4) -> torch.Tensor:
    """Normalised adjacency ``D^-1/2 (A + I) D^-1/2`` with ``A_ij = 1`` where ``P(j | i) >= threshold``."""
    together = targets.T @ targets
    conditional = together / together.diagonal().clamp(min=1)[:, None]
    adjacency = (conditional >= threshold).float()
    adjacency.fill_diagonal_(1.0)
    degree = adjacency.sum(1).rsqrt()
    return degree[:, None] * adjacency * degree[None, :]


class AUHead(nn.Module):
    def __init__(self, dim: int, num_aus: int, *, graph: torch.Tensor | None = None, hidden: int = 64):
        super().__init__()
        self.uses_graph = graph is not None
        if graph is None:
            self.linear = nn.Linear(dim, num_aus)
        else:
            self.register_buffer("graph", graph)
            self.nodes = nn.Parameter(torch.randn(num_aus, hidden) * 0.1)
            self.gc1 = nn.Linear(hidden, hidden)
            self.gc2 = nn.Linear(hidden, dim)
            self.bias = nn.Parameter(torch.zeros(num_aus))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``B x A`` AU logits."""
        if not self.uses_graph:
            return self.linear(features)
        hidden = F.leaky_relu(self.graph @ self.gc1(self.nodes), 0.2)
        classifiers = self.graph @ self.gc2(hidden)  # one weight vector per AU
        return features @ classifiers.T + self.bias


def masked_bce(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy over the AU-annotated samples only (zero when a batch has none)."""
    if not bool(mask.any()):
        return logits.sum() * 0.0
    return F.binary_cross_entropy_with_logits(logits[mask].float(), targets[mask])
