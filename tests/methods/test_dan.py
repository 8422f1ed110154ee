import math

import torch

from mer.methods.dan import CrossAttentionHeads, partition_loss


def test_partition_loss_hand_computed():
    heads = torch.tensor([[[0.0, 2.0], [2.0, 0.0]]])  # one sample, two heads, two channels
    # variance across heads (unbiased) of each channel: 2.0; log(1 + 2 / 2)
    torch.testing.assert_close(partition_loss(heads), torch.tensor(math.log(2.0)))
    assert partition_loss(heads[:, :1]) == 0


def test_heads_that_agree_pay_more_than_heads_that_differ():
    same = torch.ones(4, 3, 8) + torch.randn(4, 1, 8) * 0.01
    apart = torch.randn(4, 3, 8)
    assert partition_loss(same) > partition_loss(apart)


def test_heads_fuse_2d_and_3d_maps_to_one_vector_each():
    torch.manual_seed(0)
    module = CrossAttentionHeads(16, num_heads=3)
    for fmap in (torch.randn(5, 16, 10, 10), torch.randn(5, 16, 2, 4, 4)):
        fused, heads = module(fmap)
        assert fused.shape == (5, 16) and heads.shape == (5, 3, 16)
        torch.testing.assert_close(heads.exp().sum(1), torch.ones(5, 16))  # softmax across heads
