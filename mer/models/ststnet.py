"""STSTNet (Liong et al., FG 2019): three shallow conv streams of 3, 5 and 8 channels over the
onset-apex flow image (horizontal flow, vertical flow, optical strain), about 1.7 k parameters.

Each stream is conv 3x3 (padding 2) -> ReLU -> BatchNorm -> max pool 3/3 -> dropout, and every op
after the conv acts channel by channel, so the three streams are exactly one conv of 3 + 5 + 8 = 16
output channels followed by the same ops; the streams are the channel slices ``[0:3]``, ``[3:8]``
and ``[8:16]``. Holding them as one layer lets a training step run the stem as one fused function
(:class:`_FusedStem`, or on a CPU the compiled kernel of :mod:`mer.models.ststnet_kernel`), which is
what makes 68 folds x 800 epochs affordable on a CPU.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from mer.models import ststnet_kernel
from mer.models.batched import under_vmap
from mer.models.seeded_dropout import dropped, uniform_noise

STREAM_WIDTHS = (3, 5, 8)


class STSTNet(nn.Module):
    def __init__(
        self,
        *,
        num_classes: int,
        input_size: Sequence[int] = (28, 28),
        in_channels: int = 3,
        dropout: float = 0.5,
        fused: bool = True,
        compiled: bool = True,
    ):
        """``fused=False`` runs the plain layers; ``compiled=False`` keeps the fused stem in torch ops
        on a CPU instead of the compiled kernel (which needs a C compiler, see ststnet_kernel)."""
        super().__init__()
        width = sum(STREAM_WIDTHS)
        self.conv = nn.Conv2d(in_channels, width, kernel_size=3, padding=2)
        self.bn = nn.BatchNorm2d(width)
        self.dropout = dropout
        self.fused = fused
        self.compiled = compiled
        #: Where training draws dropout masks (None: torch's global generator); folds trained side
        #: by side in threads each set their own, so their results do not depend on scheduling.
        self.generator: torch.Generator | None = None
        side = [((s + 2 - 3 + 2) // 3 + 1) // 2 for s in input_size]  # conv (pad 2), max pool /3, avg pool /2
        self.fc = nn.Linear(width * side[0] * side[1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``B x C x 1 x H x W`` (one flow image as a one-frame clip) or ``B x C x H x W``."""
        pooled = self.feature_map(x)
        if not self.fused:
            return self.fc(self.embed(pooled))
        # the 2x2 average pool folded into the classifier: each weight spread over its 4 inputs
        k, c, (h, w) = self.fc.out_features, pooled.shape[1], pooled.shape[2:]
        weight = self.fc.weight.view(k, c, h // 2, 1, w // 2, 1).expand(-1, -1, -1, 2, -1, 2)
        weight = weight.reshape(k, c, h // 2 * 2, w // 2 * 2)
        features = pooled[:, :, : h // 2 * 2, : w // 2 * 2]
        if not under_vmap(pooled) and pooled.is_contiguous(
            memory_format=torch.channels_last
        ):  # the compiled stem's: flatten as it lies
            features, weight = features.permute(0, 2, 3, 1), weight.permute(0, 2, 3, 1)
        return F.linear(features.flatten(1), weight.reshape(k, -1) / 4, self.fc.bias)

    @property
    def classifier(self) -> nn.Linear:
        return self.fc

    @property
    def feature_channels(self) -> int:
        return self.conv.out_channels

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """The streams' pooled maps, ``B x 16 x h x w`` (after dropout when training)."""
        if x.dim() == 5:
            x = x.squeeze(2)
        pooled = None
        if self.training and self.fused and not torch.is_autocast_enabled(x.device.type) and not under_vmap(x):
            pooled = self._fused_stem(x)
        if pooled is None:
            pooled = F.max_pool2d(self.bn(F.relu(self.conv(x))), kernel_size=3, stride=3, padding=1)
        return self._drop(pooled) if self.training else pooled

    def embed(self, pooled: torch.Tensor) -> torch.Tensor:
        """The classifier's input: the map average-pooled 2x2 and flattened."""
        return F.avg_pool2d(pooled, kernel_size=2, stride=2).flatten(1)

    def class_maps(self, pooled: torch.Tensor) -> torch.Tensor:
        """``B x K x h x w``: each position's contribution to each class logit (they sum to the logit
        minus the bias), STSTNet's counterpart of a class activation map."""
        grid = F.avg_pool2d(pooled, kernel_size=2, stride=2)
        return torch.einsum("bchw,kchw->bkhw", grid, self.fc.weight.view(-1, *grid.shape[1:]))

    def _fused_stem(self, x: torch.Tensor) -> torch.Tensor | None:
        """conv -> ReLU -> BatchNorm (batch statistics) -> max pool, without a full-size BN pass.

        Max pooling commutes with BatchNorm's per-channel affine map when its scale is non-negative,
        so only the pooled values are normalised. Returns None (use the layers) if a scale is negative.
        """
        bn = self.bn
        compiled = self.compiled and ststnet_kernel.applies(x, self.conv.weight)
        stem = ststnet_kernel.CompiledStem if compiled else _FusedStem
        mean, sq, pooled = stem.apply(x, self.conv.weight, self.conv.bias)
        var = (sq - mean * mean).clamp_min(0)
        scale = bn.weight * torch.rsqrt(var + bn.eps)
        if bool((scale < 0).any()):
            return None
        with torch.no_grad():
            n = x.shape[0] * (x.shape[2] + 2) * (x.shape[3] + 2)  # values per channel: conv padding 2 adds 2
            bn.num_batches_tracked += 1
            bn.running_mean.lerp_(mean.detach(), bn.momentum)
            bn.running_var.lerp_(var.detach() * n / max(n - 1, 1), bn.momentum)
        shift = bn.bias - mean * scale
        return pooled * scale.view(1, -1, 1, 1) + shift.view(1, -1, 1, 1)

    def _drop(self, x: torch.Tensor) -> torch.Tensor:
        """Dropout, with masks drawn from :attr:`generator` where one is set (``rand < p`` drops)."""
        if self.dropout <= 0:
            return x
        noise = uniform_noise(x, x.shape, self.generator)  # in x's memory layout
        return F.dropout(x, self.dropout, self.training) if noise is None else dropped(x, self.dropout, noise)


class _FusedStem(torch.autograd.Function):
    """``relu(conv2d(x, w, b, padding=2))`` reduced to its per-channel mean and mean square (the
    BatchNorm batch statistics) and its 3x3/3 max pool, with a hand-written backward that builds the
    conv's output gradient in two passes instead of autograd's many.

    Both directions run over chunks of :data:`CHUNK` samples, so the full-size activations of a
    chunk stay in the CPU cache between the ops that touch them. The input gradient is not
    computed: the stem sees data, never a learned tensor.
    """

    CHUNK = 64

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor):
        total = torch.zeros(weight.shape[0], dtype=x.dtype, device=x.device)
        total_sq = torch.zeros_like(total)
        activations, pools, indices = [], [], []
        for chunk in x.split(_FusedStem.CHUNK):
            r = F.conv2d(chunk, weight, bias, padding=2).clamp_min_(0)
            total += r.sum((0, 2, 3))
            total_sq += (r * r).sum((0, 2, 3))
            # channels-last is several times faster for this pool on a CPU
            pooled, index = F.max_pool2d(
                r.contiguous(memory_format=torch.channels_last), kernel_size=3, stride=3, padding=1, return_indices=True
            )
            activations.append(r)
            pools.append(pooled.contiguous())
            indices.append(index)
        pooled = torch.cat(pools)
        ctx.activations, ctx.indices = activations, indices
        ctx.save_for_backward(x, weight, pooled)
        n = x.shape[0] * activations[0].shape[2] * activations[0].shape[3]
        return total / n, total_sq / n, pooled

    @staticmethod
    def backward(ctx, grad_mean: torch.Tensor, grad_sq: torch.Tensor, grad_pooled: torch.Tensor):
        x, weight, pooled = ctx.saved_tensors
        c = weight.shape[0]
        n = x.shape[0] * ctx.activations[0].shape[2] * ctx.activations[0].shape[3]
        # d/dr of the mean is 1/n and of the mean square 2r/n; ReLU passes the gradient where r > 0
        grad_mean, grad_sq = (grad_mean / n).view(1, -1, 1, 1), (2 * grad_sq / n).view(1, -1, 1, 1)
        grad_pooled = grad_pooled * (pooled > 0)
        grad_weight, grad_bias = torch.zeros_like(weight), torch.zeros(c, dtype=x.dtype, device=x.device)
        for chunk, r, index, g_pool in zip(
            x.split(_FusedStem.CHUNK), ctx.activations, ctx.indices, grad_pooled.split(_FusedStem.CHUNK), strict=True
        ):
            b = chunk.shape[0]
            grad = torch.sign(r).mul_(grad_mean).addcmul_(r, grad_sq)  # zero where r is: no threshold pass
            grad.view(b, c, -1).scatter_add_(2, index.reshape(b, c, -1), g_pool.reshape(b, c, -1))
            _, g_weight, g_bias = torch.ops.aten.convolution_backward(
                grad, chunk, weight, [c], [1, 1], [2, 2], [1, 1], False, [0, 0], 1, [False, True, True]
            )
            grad_weight += g_weight
            grad_bias += g_bias
        ctx.activations = ctx.indices = None
        return None, grad_weight, grad_bias
