"""Multi-head cross attention with attention fusion, after DAN (Wen, Lin, Wang and Xu, "Distract
your attention", Biomimetics 2023).

Each of ``num_heads`` heads weighs the positions of the backbone's feature map with its own
attention (a position-wise bottleneck summed over channels, ReLU; DAN uses 1x1, 3x3, 1x3 and 3x1
convolutions here, position-wise layers work on 2D and 3D maps alike), pools the weighted map and
re-weights its channels (channel attention). The heads are fused by a softmax across heads and
summed; the partition loss ``log(1 + H / var)`` (the variance across heads, averaged) keeps the
heads on different regions.
"""

from __future__ import annotations

import torch
from torch import nn


class _Head(nn.Module):
    def __init__(self, channels: int, reduction: int):
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.spatial = nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(), nn.Linear(hidden, channels))
        self.channel = nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(), nn.Linear(hidden, channels), nn.Sigmoid())

    def forward(self, positions: torch.Tensor) -> torch.Tensor:
        """``B x P x C`` positions to one ``B x C`` head output."""
        attention = torch.relu(self.spatial(positions).sum(dim=2, keepdim=True))
        pooled = (positions * attention).mean(dim=1)
        return pooled * self.channel(pooled)


class CrossAttentionHeads(nn.Module):
    def __init__(self, channels: int, *, num_heads: int = 4, reduction: int = 4):
        super().__init__()
        self.heads = nn.ModuleList(_Head(channels, reduction) for _ in range(num_heads))
        self.norm = nn.BatchNorm1d(channels)

    def forward(self, fmap: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``B x C x ...`` map to ``(B x C fused features, B x H x C head outputs)``."""
        positions = fmap.flatten(2).transpose(1, 2)
        heads = torch.stack([head(positions) for head in self.heads], dim=1)
        if heads.shape[1] > 1:
            heads = heads.log_softmax(dim=1)
        return self.norm(heads.sum(dim=1)), heads


def partition_loss(heads: torch.Tensor) -> torch.Tensor:
    """``log(1 + H / mean variance across heads)``; zero with a single head."""
    if heads.shape[1] < 2:
        return heads.sum() * 0.0
    return torch.log1p(heads.shape[1] / heads.float().var(dim=1).mean().clamp(min=1e-8))
