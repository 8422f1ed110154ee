"""What a model needs to train inside ``torch.func.vmap``, where fused folds run it
(:mod:`mer.training.fused`): a test for "this tensor is one replica's view of a batch of models" and
the few layers whose kernels vmap cannot batch, written in plain tensor ops there, and the protocol
of a model whose structure depends on its own weights."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

import torch
from torch import nn


def under_vmap(x: torch.Tensor) -> bool:
    """True inside ``vmap``: custom autograd functions and fused RNN kernels must step aside."""
    return torch._C._functorch.is_batchedtensor(x)


@runtime_checkable
class LearnedStructure(Protocol):
    """A model whose forward pass follows a discrete structure computed from its own weights by code
    vmap cannot run (a spanning tree by scipy, say): fused training computes each fold's structure
    outside vmap from that fold's weights before every step and hands it to ``forward``, so a fused
    fold follows the structure it follows alone."""

    def structure_of(self, params: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The integer tensor the weights ``params`` (named as the model's own parameters) give."""
        ...

    def forward(self, x: torch.Tensor, structure: torch.Tensor | None = None) -> torch.Tensor:
        """``structure``: what :meth:`structure_of` gives for the current weights; computed here where None."""
        ...


class GRU(nn.GRU):
    """``nn.GRU`` (batch first, one layer, either direction) that runs as a loop of tensor ops under
    vmap, which has no batching rule for the fused GRU kernel; the fused kernel everywhere else."""

    def forward(self, x: torch.Tensor, hx: torch.Tensor | None = None):
        if not under_vmap(x) or hx is not None:
            return super().forward(x, hx)
        if self.num_layers != 1 or not self.batch_first:
            raise ValueError("the vmap form of GRU has one layer and batch-first inputs")
        outs, finals = [], []
        for suffix in ("", "_reverse")[: 1 + self.bidirectional]:
            out, final = _gru_direction(x, self, suffix, reverse=bool(suffix))
            outs.append(out)
            finals.append(final)
        return torch.cat(outs, dim=-1), torch.stack(finals)


def _gru_direction(x: torch.Tensor, gru: nn.GRU, suffix: str, *, reverse: bool):
    """One direction of a one-layer GRU over ``B x T x F``, with PyTorch's gate equations."""
    w_ih, w_hh = getattr(gru, f"weight_ih_l0{suffix}"), getattr(gru, f"weight_hh_l0{suffix}")
    b_ih, b_hh = getattr(gru, f"bias_ih_l0{suffix}", None), getattr(gru, f"bias_hh_l0{suffix}", None)
    inputs = nn.functional.linear(x, w_ih, b_ih)  # all steps at once
    h = x.new_zeros(x.shape[0], gru.hidden_size)
    steps = range(x.shape[1] - 1, -1, -1) if reverse else range(x.shape[1])
    out = [None] * x.shape[1]
    for t in steps:
        r_i, z_i, n_i = inputs[:, t].chunk(3, dim=-1)
        r_h, z_h, n_h = nn.functional.linear(h, w_hh, b_hh).chunk(3, dim=-1)
        r, z = torch.sigmoid(r_i + r_h), torch.sigmoid(z_i + z_h)
        n = torch.tanh(n_i + r * n_h)
        h = (1 - z) * n + z * h
        out[t] = h
    return torch.stack(out, dim=1), h
