"""HTNet (Wang et al., "HTNet for micro-expression recognition", Neurocomputing 2024): a hierarchical
transformer (NesT-style: transformer blocks within image blocks, then a conv "aggregate" that merges
neighbouring blocks and halves the map) over four facial regions of the onset-apex flow image.

Following the authors' public code (wangzhifengharrison/HTNet, ``Model.py`` and ``main_HTNet.py``):
the 14 x 14 windows round the left eye, left lip corner, right eye and right lip corner of a 28 x 28
flow image (u, v, strain) are tiled 2 x 2 into a new 28 x 28 image ([left eye, left lip corner] on
top, [right eye, right lip corner] below), cut into 7 x 7 patches (a 4 x 4 map), and passed through
three levels of width 256, 512, 1024 with 3, 6, 12 heads and 2, 2, 10 blocks.

At these sizes every transformer block sees one token (the published ``seq_len`` is
``(28 / 7 / 4) ** 2 = 1``): the levels' attention is a per-position map, and what joins the patches
and then the regions is the aggregation convs, level by level. The 1024-wide last level makes the
model large (140 M parameters) for 442 samples; that is the published model.

What we could not confirm: the published region centres come from MTCNN landmarks found on each
28 x 28 apex frame, with fixed fallback landmarks where none is found; without the frames we use the
crops of those fallback landmarks (:data:`PUBLISHED_CENTRES`). The published code fed the flow
images as OpenCV reads them (channels in B, G, R order, values 0-255): ``input_scale=255`` in the
config restores the range; the channel order does not matter to a model trained from scratch.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from mer.models.seeded_dropout import Dropout, SeededDropouts

#: The published fallback landmarks on a 28 x 28 face, (x, y) in MTCNN's order: left eye, right
#: eye, nose, left mouth corner, right mouth corner.
FALLBACK_LANDMARKS = (
    (9.528073, 11.062551),
    (21.396168, 10.919773),
    (15.380184, 17.380562),
    (10.255435, 22.121233),
    (20.583706, 22.25584),
)
#: (row, col) of the four windows the published code cuts from a 28 x 28 image with the fallback
#: landmarks, in the order left eye, left lip corner, right eye, right lip corner. It indexes rows by
#: a landmark's x, which on this nearly diagonal-symmetric face lands on the named regions, the left
#: eye and right lip corner 1-2 px off where the landmarks put them (:func:`region_centres`).
PUBLISHED_CENTRES = ((9, 11), (21, 10), (10, 21), (20, 21))


def region_centres(landmarks: Sequence[Sequence[float]], size: int = 28, window: int = 14) -> list[tuple[int, int]]:
    """(row, col) of the four windows from five (x, y) face landmarks (MTCNN's order), kept inside
    the image as the published code does: left eye, left lip corner, right eye, right lip corner."""
    half = window // 2
    order = (0, 3, 1, 4)  # left eye, left mouth corner, right eye, right mouth corner
    clamp = lambda v: int(min(max(v, half), size - half))  # noqa: E731
    return [(clamp(landmarks[i][1]), clamp(landmarks[i][0])) for i in order]


class FacialRegions(nn.Module):
    """Four ``window`` x ``window`` crops at fixed centres, tiled 2 x 2: [first, second] on top,
    [third, fourth] below. Fixed centres suit flow images of aligned faces (the MEGC 2019 composite)."""

    def __init__(self, *, centres: Sequence[Sequence[int]] = PUBLISHED_CENTRES, window: int = 14):
        super().__init__()
        if len(centres) != 4:
            raise ValueError(f"HTNet tiles four regions, got {len(centres)} centres")
        self.centres = [(int(r), int(c)) for r, c in centres]
        self.window = window

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        half = self.window // 2
        crops = [x[..., r - half : r + half, c - half : c + half] for r, c in self.centres]
        return torch.cat([torch.cat(crops[:2], dim=-1), torch.cat(crops[2:], dim=-1)], dim=-2)


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channels of each position of a ``B x C x H x W`` map."""

    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(1, dim, 1, 1))
        self.bias = nn.Parameter(torch.zeros(1, dim, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        var, mean = torch.var_mean(x, dim=1, unbiased=False, keepdim=True)
        return (x - mean) * torch.rsqrt(var + self.eps) * self.weight + self.bias


class Attention(nn.Module):
    """Multi-head self-attention among the positions of a map, with 1 x 1 convs as projections."""

    def __init__(self, dim: int, heads: int, dropout: float = 0.0):
        super().__init__()
        self.heads, self.dim_head = heads, dim // heads
        inner = self.dim_head * heads
        self.qkv = nn.Conv2d(dim, inner * 3, 1, bias=False)
        self.attention_dropout = Dropout(dropout)
        self.out = nn.Sequential(nn.Conv2d(inner, dim, 1), Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        q, k, v = self.qkv(x).view(b, 3, self.heads, self.dim_head, h * w).transpose(-1, -2).unbind(1)
        attention = self.attention_dropout((q @ k.transpose(-1, -2) * self.dim_head**-0.5).softmax(dim=-1))
        return self.out((attention @ v).transpose(-1, -2).reshape(b, -1, h, w))


def feed_forward(dim: int, mult: int = 4, dropout: float = 0.0) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(dim, dim * mult, 1), nn.GELU(), Dropout(dropout), nn.Conv2d(dim * mult, dim, 1), Dropout(dropout)
    )


class TransformerLevel(nn.Module):
    """Pre-norm transformer blocks over the positions of each image block, with a learned scalar
    position embedding per position."""

    def __init__(self, *, dim: int, seq_len: int, depth: int, heads: int, mlp_mult: int, dropout: float):
        super().__init__()
        self.position = nn.Parameter(torch.randn(seq_len))
        self.blocks = nn.ModuleList(
            nn.ModuleList(
                [
                    nn.Sequential(ChannelLayerNorm(dim), Attention(dim, heads, dropout)),
                    nn.Sequential(ChannelLayerNorm(dim), feed_forward(dim, mlp_mult, dropout)),
                ]
            )
            for _ in range(depth)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        x = x + self.position[: h * w].view(1, 1, h, w)
        for attention, ff in self.blocks:
            x = attention(x) + x
            x = ff(x) + x
        return x


def aggregate(dim_in: int, dim_out: int) -> nn.Sequential:
    """Merges neighbouring blocks and halves the map: conv 3 x 3, LayerNorm, max pool 3 / 2."""
    return nn.Sequential(
        nn.Conv2d(dim_in, dim_out, 3, padding=1), ChannelLayerNorm(dim_out), nn.MaxPool2d(3, stride=2, padding=1)
    )


def _to_blocks(x: torch.Tensor, n: int) -> torch.Tensor:
    """``B x C x (n h) x (n w)`` to ``(B n n) x C x h x w``."""
    b, c, hh, ww = x.shape
    return x.view(b, c, n, hh // n, n, ww // n).permute(0, 2, 4, 1, 3, 5).reshape(b * n * n, c, hh // n, ww // n)


def _from_blocks(x: torch.Tensor, n: int) -> torch.Tensor:
    bnn, c, h, w = x.shape
    b = bnn // (n * n)
    return x.view(b, n, n, c, h, w).permute(0, 3, 1, 4, 2, 5).reshape(b, c, n * h, n * w)


class HTNet(SeededDropouts, nn.Module):
    def __init__(
        self,
        *,
        num_classes: int,
        regions: nn.Module | None = None,
        image_size: int = 28,
        patch_size: int = 7,
        dim: int = 256,
        heads: int = 3,
        num_hierarchies: int = 3,
        block_repeats: Sequence[int] = (2, 2, 10),
        mlp_mult: int = 4,
        in_channels: int = 3,
        dropout: float = 0.0,
        input_scale: float = 1.0,
    ):
        """``regions`` maps the input image to the ``image_size`` one the patches are cut from
        (:class:`FacialRegions`; None: the image itself); ``input_scale`` multiplies the input first."""
        super().__init__()
        if image_size % patch_size:
            raise ValueError(f"image_size {image_size} is not a multiple of patch_size {patch_size}")
        if len(block_repeats) != num_hierarchies:
            raise ValueError(f"block_repeats {list(block_repeats)} needs one entry per hierarchy ({num_hierarchies})")
        self.regions = regions if regions is not None else nn.Identity()
        self.input_scale = input_scale
        fmap = image_size // patch_size
        seq_len = (fmap // 2 ** (num_hierarchies - 1)) ** 2  # the same at every level: blocks and map halve together
        dims = [dim * 2**i for i in range(num_hierarchies)]
        # one linear map of each flattened patch, as the published Rearrange + 1 x 1 conv
        self.patches = nn.Conv2d(in_channels, dim, kernel_size=patch_size, stride=patch_size)
        self.levels = nn.ModuleList()
        self.aggregates = nn.ModuleList()
        for i, (width, depth) in enumerate(zip(dims, block_repeats, strict=True)):
            self.levels.append(
                TransformerLevel(
                    dim=width, seq_len=seq_len, depth=depth, heads=heads * 2**i, mlp_mult=mlp_mult, dropout=dropout
                )
            )
            last = i == num_hierarchies - 1
            self.aggregates.append(nn.Identity() if last else aggregate(width, dims[i + 1]))
        self.norm = ChannelLayerNorm(dims[-1])
        self.classifier = nn.Linear(dims[-1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``B x C x 1 x H x W`` (a flow image as a one-frame clip) or ``B x C x H x W``."""
        if x.dim() == 5:
            x = x.squeeze(2)
        x = self.patches(self.regions(x) * self.input_scale)
        for i, (level, merge) in enumerate(zip(self.levels, self.aggregates, strict=True)):
            n = 2 ** (len(self.levels) - 1 - i)  # image blocks a side: 4, 2, 1
            x = merge(_from_blocks(level(_to_blocks(x, n)), n))
        return self.classifier(self.norm(x).mean(dim=(2, 3)))
