"""FaceTopoNet (Kolahdouzi, Sepas-Moghaddam and Etemad, "FaceTopoNet: Facial Expression
Recognition Using Face Topology Learning", IEEE Transactions on Artificial Intelligence 2022), read
for micro-expressions on onset-apex flow images.

The paper learns a tree over the facial landmarks end to end, traverses it into a sequence and feeds
two sequential learners: a structure stream on the landmarks' positions and a texture stream on
patches around them, fused by attention. Here, on a flow image (horizontal flow, vertical flow,
strain), the structure of a landmark is its position and its displacement from onset to apex (the
flow sampled there), its texture the flow patch around it. The tree is the maximum spanning tree of
a learned, symmetric edge-weight matrix (initialised from the landmarks' distances), traversed depth
first from the nose tip; each step is gated by the sigmoid of the weight of the edge it came by, so
the edges the tree uses get gradients and the tree changes as they learn (our reading: the paper's
text does not fix how gradients reach the topology). Landmark positions are fixed canonical ones
(``mer/models/canonical_landmarks.csv``: the mean of 129 CASME II crops, made by
``data_tools/canonical_landmarks.py``), as the composite's images come without landmarks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy.sparse.csgraph import depth_first_order, minimum_spanning_tree
from torch import nn

from mer.models.batched import GRU
from mer.models.seeded_dropout import Dropout, SeededDropouts

CANONICAL_LANDMARKS = Path(__file__).with_name("canonical_landmarks.csv")
NOSE_TIP = 30  # dlib's 68-point order
INNER = tuple(range(17, 68))  # brows, eyes, nose, mouth: the jaw line lies outside tight face crops


def canonical_landmarks(path: Path = CANONICAL_LANDMARKS) -> np.ndarray:
    """``68 x 2`` landmark positions as fractions of the face crop (x, y)."""
    return np.loadtxt(path, delimiter=",", comments="#", skiprows=2, dtype=np.float32)


def tree_order(weights: np.ndarray, root: int) -> tuple[np.ndarray, np.ndarray]:
    """Depth-first order of the maximum spanning tree of ``weights`` and each node's parent (-1: root)."""
    cost = weights.max() + 1.0 - weights  # the heaviest edges become the cheapest, all of them positive
    np.fill_diagonal(cost, 0)
    span = minimum_spanning_tree(cost)
    order, parents = depth_first_order(span, root, directed=False)
    parents = np.where(parents < 0, -1, parents)
    return order, parents[order]


class _Stream(nn.Module):
    """Embeddings of the tree-ordered landmarks through a bidirectional GRU, pooled over the sequence."""

    def __init__(self, features: int, hidden: int):
        super().__init__()
        self.embed = nn.Sequential(nn.Linear(features, hidden), nn.ReLU())
        self.gru = GRU(hidden, hidden, batch_first=True, bidirectional=True)

    def forward(self, x: torch.Tensor, gate: torch.Tensor) -> torch.Tensor:
        out, _ = self.gru(self.embed(x) * gate[None, :, None])
        return out.mean(dim=1)


class FaceTopoNet(SeededDropouts, nn.Module):
    def __init__(
        self,
        *,
        num_classes: int,
        in_channels: int = 3,
        landmarks: Sequence[Sequence[float]] | None = None,
        use: Sequence[int] = INNER,
        patch: int = 5,
        patch_extent: float = 0.12,
        hidden: int = 32,
        dropout: float = 0.5,
        root: int = NOSE_TIP,
    ):
        """``landmarks``: ``68 x 2`` positions as fractions of the image (default: the canonical ones),
        of which the tree spans ``use`` from ``root``; ``patch`` x ``patch`` samples of the flow over
        ``patch_extent`` of the image around each."""
        super().__init__()
        every = np.asarray(landmarks if landmarks is not None else canonical_landmarks(), dtype=np.float32)
        use = list(use)
        points = every[use]
        self.register_buffer("points", torch.from_numpy(points))
        distance = np.linalg.norm(points[:, None] - points[None], axis=-1)
        self.edges = nn.Parameter(torch.from_numpy(-distance / distance.mean()).float())  # near landmarks: strong
        offsets = torch.linspace(-patch_extent / 2, patch_extent / 2, patch)
        self.register_buffer("offsets", torch.stack(torch.meshgrid(offsets, offsets, indexing="xy"), dim=-1))
        self.root, self.in_channels = use.index(root), in_channels
        self.structure = _Stream(2 + in_channels, hidden)
        self.texture = _Stream(in_channels * patch * patch, hidden)
        self.attention = nn.Linear(2 * hidden, 1)
        self.dropout = Dropout(dropout)
        self.fc = nn.Linear(2 * hidden, num_classes)

    def symmetric_edges(self, edges: torch.Tensor | None = None) -> torch.Tensor:
        edges = self.edges if edges is None else edges
        return (edges + edges.T) / 2

    def topology(self, edges: torch.Tensor | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The tree of symmetric ``edges`` (default: the current weights): traversal order and each
        landmark's parent."""
        edges = self.symmetric_edges() if edges is None else edges
        return tree_order(edges.detach().cpu().numpy(), self.root)

    def structure_of(self, params: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The tree of the edge weights in ``params`` as ``2 x N`` (traversal order; each landmark's
        parent there, -1 for the root): :class:`mer.models.batched.LearnedStructure`."""
        order, parents = self.topology(self.symmetric_edges(params["edges"]))
        return torch.from_numpy(np.stack([order, parents])).to(params["edges"].device)

    def forward(self, x: torch.Tensor, structure: torch.Tensor | None = None) -> torch.Tensor:
        """``x``: ``B x C x 1 x H x W`` (one flow image as a one-frame clip) or ``B x C x H x W``;
        ``structure``: the tree of the current edge weights (:meth:`structure_of`), computed where None."""
        if x.dim() == 5:
            x = x.squeeze(2)
        symmetric = self.symmetric_edges()
        if structure is None:
            structure = self.structure_of({"edges": self.edges})
        order, parent, child = structure[0], structure[1, 1:], structure[0, 1:]
        points = self.points[order]  # N x 2, in traversal order
        gate = torch.cat([symmetric.new_ones(1), torch.sigmoid(symmetric[parent, child])])  # root: 1
        grid = points * 2 - 1  # grid_sample's [-1, 1]
        sampled = F.grid_sample(x, grid[None, :, None].expand(len(x), -1, -1, -1), align_corners=False)
        where = torch.cat([points[None].expand(len(x), -1, -1), sampled[..., 0].transpose(1, 2)], dim=-1)
        patches = (points[:, None, None] + self.offsets[None]) * 2 - 1  # N x p x p x 2
        flat = patches.reshape(1, len(order), -1, 2).expand(len(x), -1, -1, -1)
        texture = F.grid_sample(x, flat, align_corners=False).permute(0, 2, 1, 3).flatten(2)  # B x N x C*p*p
        streams = torch.stack([self.structure(where, gate), self.texture(texture, gate)], dim=1)
        weights = torch.softmax(self.attention(streams), dim=1)  # attention over the two streams
        return self.fc(self.dropout((weights * streams).sum(dim=1)))
