"""A temporal transformer: a per-frame encoder, then self-attention over time.

With ``frame_encoder="cnn"`` each frame becomes one token (cheap, suits long high-frame-rate
sequences), or a ``frame_grid x frame_grid`` grid of tokens, so that attention sees where on the
face the motion is (one token a frame averages the whole face); ``"tubelet"`` is that CNN with
3-D kernels, so that each frame's tokens also see its neighbours in time, and ``"resnet"`` r3d's
stem and two residual blocks, a deeper tokenizer for small sets; with ``"patch"`` each
frame becomes a grid of patch tokens and attention runs over space and time. ``keep_tokens``
applies attentive token pooling (APViT's ATP, Xue et al. 2022): after ``pool_after`` blocks only
the tokens the class token attends to most are kept, which cuts the cost of the remaining blocks
without learnable parameters. ``pooling`` chooses what the head sees: the class token (``"cls"``)
or a learned query's attention over all tokens (``"query"``, as Set Transformer's PMA pools), which
weighs the tokens by their content at the last block rather than through the class token's path
through every block, or their mean (``"mean"``, global average pooling as a CNN's head pools).

For the training methods (:mod:`mer.methods`) the model is split as a CNN is: the normalised token
sequence is the feature map, the pooling its embedding, the head its classifier, and each token's
own class evidence (the head applied to it) its class activation map over space-time.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Sequence

import torch
from torch import nn

from mer.models.batched import under_vmap
from mer.models.r3d import BasicBlock, conv_bn


def _per_frame(encoder: Callable[[torch.Tensor], torch.Tensor], clips: torch.Tensor) -> torch.Tensor:
    """A frame encoder (``frames x C x H x W`` to ``frames x tokens x D``) over ``B x C x T x H x W``
    clips: ``B x (T * tokens) x D``, time-major."""
    b, c, t, h, w = clips.shape
    tokens = encoder(clips.transpose(1, 2).reshape(b * t, c, h, w))
    return tokens.reshape(b, t * tokens.shape[1], -1)


def _strided_layers(
    dim: int, conv: Callable[[int, int], nn.Module], norm: Callable[[int], nn.Module]
) -> list[nn.Module]:
    """Three ``conv`` + ``norm`` + GELU layers widening 3 channels to ``dim // 4``, ``dim // 2``, ``dim``."""
    channels = [3, dim // 4, dim // 2, dim]
    return [m for c_in, c_out in itertools.pairwise(channels) for m in (conv(c_in, c_out), norm(c_out), nn.GELU())]


class FrameCNN(nn.Module):
    """Three strided conv layers pooled to a ``grid x grid`` map: ``grid**2`` ``dim`` tokens per frame."""

    def __init__(self, dim: int, grid: int = 1):
        super().__init__()
        conv = functools.partial(nn.Conv2d, kernel_size=3, stride=2, padding=1, bias=False)
        self.net = nn.Sequential(*_strided_layers(dim, conv, nn.BatchNorm2d), nn.AdaptiveAvgPool2d(grid), nn.Flatten(2))

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return _per_frame(lambda frames: self.net(frames).transpose(1, 2), clips)


class _SpaceTimeTokens(nn.Module):
    """A 3-D ``net`` that keeps time and pools space to ``grid x grid``: its cells are the tokens."""

    net: nn.Sequential

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self.net(clips).flatten(2).transpose(1, 2)  # B x D x T x g x g: time-major tokens


class TubeletCNN(_SpaceTimeTokens):
    """:class:`FrameCNN` with 3 x 3 x 3 kernels (stride 1 in time): each frame's ``grid x grid`` tokens
    also see its neighbours in time, as ViViT's tubelet embedding does (Arnab et al., ICCV 2021)."""

    def __init__(self, dim: int, grid: int = 1):
        super().__init__()
        conv = functools.partial(nn.Conv3d, kernel_size=3, stride=(1, 2, 2), padding=1, bias=False)
        self.net = nn.Sequential(*_strided_layers(dim, conv, nn.BatchNorm3d), nn.AdaptiveAvgPool3d((None, grid, grid)))


class ResidualTubelets(_SpaceTimeTokens):
    """r3d's stem and two of its residual blocks (stride 1 in time) as the tokenizer: a deeper
    convolutional tokenizer, as hybrid ViTs and Compact Convolutional Transformers (Hassani et al.
    2021) use to train transformers on small sets; widths ``dim // 4``, ``dim // 2``, ``dim``."""

    def __init__(self, dim: int, grid: int = 1):
        super().__init__()
        widths, space = (dim // 4, dim // 2, dim), (1, 2, 2)
        self.net = nn.Sequential(
            *conv_bn(3, widths[0], kernel=(3, 3, 3), stride=space),
            nn.ReLU(inplace=True),
            BasicBlock(widths[0], widths[1], space),
            BasicBlock(widths[1], widths[2], space),
            nn.AdaptiveAvgPool3d((None, grid, grid)),
        )


class PatchEmbedding(nn.Module):
    """Non-overlapping ``patch x patch`` patches, linearly embedded: a grid of tokens per frame."""

    def __init__(self, dim: int, patch: int):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, patch, stride=patch)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return _per_frame(lambda frames: self.proj(frames).flatten(2).transpose(1, 2), clips)


# the encoders that give each frame a frame_grid x frame_grid grid of tokens; "patch" sizes its own grid
GRID_ENCODERS: dict[str, type[nn.Module]] = {"cnn": FrameCNN, "tubelet": TubeletCNN, "resnet": ResidualTubelets}
ENCODERS = (*GRID_ENCODERS, "patch")


class Block(nn.Module):
    """Pre-norm transformer block that can return its attention weights."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float, dropout: float):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor, need_weights: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        h = self.norm1(x)
        # vmap (fused folds) has no batching rule for the fused attention kernel and would loop over
        # the folds; the explicit form that also returns the weights runs batched
        explicit = need_weights or under_vmap(h)
        attended, weights = self.attn(h, h, h, need_weights=explicit, average_attn_weights=True)
        x = x + attended
        return x + self.mlp(self.norm2(x)), weights


def attentive_token_pooling(x: torch.Tensor, cls_attention: torch.Tensor, keep: int) -> torch.Tensor:
    """Keep the class token and the ``keep`` tokens it attends to most, in their original order.

    Args:
        x: ``B x (1 + N) x D`` tokens, class token first.
        cls_attention: ``B x N`` attention of the class token to the other tokens.
    """
    index = cls_attention.topk(keep, dim=1).indices.sort(dim=1).values + 1
    kept = x.gather(1, index.unsqueeze(-1).expand(-1, -1, x.shape[-1]))
    return torch.cat([x[:, :1], kept], dim=1)


class QueryPooling(nn.Module):
    """A learned query attends over the tokens: ``B x N x D`` to ``B x D``. The query starts near
    zero, so pooling starts as a near-uniform mean and learns which tokens to weigh."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.query = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        query = self.query.expand(len(tokens), -1, -1)
        # the explicit form under vmap, as in Block
        pooled, _ = self.attn(query, tokens, tokens, need_weights=under_vmap(tokens))
        return pooled[:, 0]


POOLINGS = ("cls", "query", "mean")


class TemporalTransformer(nn.Module):
    """``B x C x T x H x W`` clips to ``B x num_classes`` logits; ``pooling`` (keyword-only): ``"cls"``
    (the class token, the default) or ``"query"`` (:class:`QueryPooling`); ``frame_grid``: the per-frame
    CNN's tokens a side (1: one token a frame)."""

    def __init__(
        self,
        *,
        num_classes: int,
        num_frames: int,
        input_size: Sequence[int],
        frame_encoder: str = "cnn",
        frame_grid: int = 1,
        patch_size: int = 8,
        dim: int = 128,
        depth: int = 4,
        heads: int = 4,
        mlp_ratio: float = 2.0,
        dropout: float = 0.1,
        keep_tokens: float = 1.0,
        pool_after: int = 2,
        pooling: str = "cls",
    ):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}")
        if frame_encoder in GRID_ENCODERS:
            if frame_grid < 1:
                raise ValueError(f"frame_grid is a positive number of tokens a side, got {frame_grid}")
            self.encoder, grid = GRID_ENCODERS[frame_encoder](dim, frame_grid), (frame_grid, frame_grid)
        elif frame_encoder == "patch":
            self.encoder = PatchEmbedding(dim, patch_size)
            grid = (input_size[0] // patch_size, input_size[1] // patch_size)
        else:
            raise ValueError(f"frame_encoder must be one of {', '.join(ENCODERS)}, got {frame_encoder!r}")
        if not 0 < keep_tokens <= 1:
            raise ValueError(f"keep_tokens is a fraction in (0, 1], got {keep_tokens}")
        num_tokens = num_frames * grid[0] * grid[1]
        self.keep = max(1, round(num_tokens * keep_tokens))
        self.pool_after = pool_after
        self.token_grid = (num_frames, *grid)  # time-major, as tokens() lays them out
        self.prunes = self.keep < num_tokens and 1 <= pool_after <= depth
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.randn(1, num_tokens, dim) * 0.02)
        self.blocks = nn.ModuleList(Block(dim, heads, mlp_ratio, dropout) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.pooling = pooling
        self.pool = QueryPooling(dim, heads) if pooling == "query" else None
        self.head = nn.Linear(dim, num_classes)
        self.feature_channels = dim

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """``B x C x T x H x W`` clips to ``B x (T * tokens per frame) x D``, time-major."""
        return self.encoder(x)

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """``B x D x (1 + N)``: the normalised output tokens, class token first."""
        tokens = self.tokens(x) + self.pos
        x = torch.cat([self.cls.expand(len(tokens), -1, -1), tokens], dim=1)
        for i, block in enumerate(self.blocks):
            prune = self.prunes and i + 1 == self.pool_after
            x, weights = block(x, need_weights=prune)
            if prune:
                x = attentive_token_pooling(x, weights[:, 0, 1:], self.keep)
        return self.norm(x).transpose(1, 2)

    def embed(self, fmap: torch.Tensor) -> torch.Tensor:
        """The head's ``B x D`` input: the class token, the query's attention over all tokens, or the
        mean of the tokens but the class token."""
        if self.pool is not None:
            return self.pool(fmap.transpose(1, 2))
        return fmap[:, :, 0] if self.pooling == "cls" else fmap[:, :, 1:].mean(dim=2)

    @property
    def classifier(self) -> nn.Linear:
        return self.head

    @property
    def class_maps(self) -> Callable[[torch.Tensor], torch.Tensor] | None:
        """Each token's class evidence on the ``T x h x w`` token grid (``h x w`` = 1 x 1 for the
        per-frame CNN); None when tokens are pruned, which leaves no grid."""
        return None if self.prunes else self._token_evidence

    def _token_evidence(self, fmap: torch.Tensor) -> torch.Tensor:
        evidence = torch.einsum("bdn,kd->bkn", fmap[:, :, 1:], self.head.weight)
        return evidence.reshape(*evidence.shape[:2], *self.token_grid)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(self.feature_map(x)))
