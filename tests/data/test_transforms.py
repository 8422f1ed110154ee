import pytest
import torch

from mer.data.transforms import Augment, Normalization

FLOW = Normalization(mean=(0.5, 0.5, 0.0), std=(0.25, 0.25, 0.25))


def test_mirroring_flow_negates_the_horizontal_flow_only():
    x = torch.randn(4, 3, 2, 6, 6)
    out = Augment(hflip=1.0, negate_channels=[0])(x, FLOW, torch.Generator().manual_seed(0))
    assert torch.allclose(out[:, 0], -x[:, 0].flip(-1))  # mean 0.5: the byte map 255 - p is -x in model units
    assert torch.allclose(out[:, 1:], x[:, 1:].flip(-1))


def test_no_ranges_and_no_flip_leave_the_clip_as_it_is():
    x = torch.randn(3, 3, 4, 8, 8)
    assert torch.equal(Augment()(x, FLOW, torch.Generator()), x)


def test_one_similarity_a_clip_moves_every_frame_alike():
    frame = torch.zeros(16, 16)
    frame[6:10, 6:10] = 1.0
    x = frame.expand(2, 3, 5, 16, 16).clone()
    out = Augment(translate=0.2, scale=0.1, rotate=10)(x, FLOW, torch.Generator().manual_seed(1))
    assert not torch.allclose(out, x)
    assert torch.allclose(out[:, :, :1].expand_as(out), out)  # the same warp for each frame and channel
    assert out[0, 0, 0].sum() == pytest.approx(16, rel=0.35)  # a 4 x 4 square, moved, about as large
