"""HTNet, Dual-Inception and RCN: as published, what they read, and that they learn."""

import pytest
import torch
from torch import nn

from mer.models.dual_inception import DualInception
from mer.models.facetoponet import FaceTopoNet
from mer.models.htnet import (
    FALLBACK_LANDMARKS,
    PUBLISHED_CENTRES,
    FacialRegions,
    HTNet,
    _from_blocks,
    _to_blocks,
    region_centres,
)
from mer.models.offapexnet import OffApexNet
from mer.models.rcn import RCN, class_weight_attention
from tests.models.test_models import build


def _overfits(net: nn.Module, steps: int = 60, lr: float = 1e-3) -> tuple[float, float]:
    torch.manual_seed(0)
    x, y = torch.rand(12, 3, 28, 28), torch.arange(12) % 3
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        loss = nn.functional.cross_entropy(net(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses[0], losses[-1]


def test_htnet_regions_are_the_published_crops_tiled_two_by_two():
    image = torch.arange(28 * 28, dtype=torch.float).view(1, 1, 28, 28)
    montage = FacialRegions()(image)[0, 0]
    assert montage.shape == (28, 28)
    (r, c) = PUBLISHED_CENTRES[1]  # left lip corner: top right of the montage
    assert torch.equal(montage[:14, 14:], image[0, 0, r - 7 : r + 7, c - 7 : c + 7])
    (r, c) = PUBLISHED_CENTRES[2]  # right eye: bottom left
    assert torch.equal(montage[14:, :14], image[0, 0, r - 7 : r + 7, c - 7 : c + 7])
    # read the right way round, the fallback landmarks move the left eye and right lip corner by 1-2 px
    assert region_centres(FALLBACK_LANDMARKS) == [(11, 9), (21, 10), (10, 21), (21, 20)]
    with pytest.raises(ValueError, match="four regions"):
        FacialRegions(centres=[(14, 14)])


def test_htnet_is_as_published_and_reads_only_the_four_regions():
    net = build("htnet").eval()
    assert 139e6 < sum(p.numel() for p in net.parameters()) < 140e6
    widths = []
    for level in net.levels:
        level.register_forward_hook(lambda m, args, out: widths.append(tuple(args[0].shape)))
    x = torch.rand(2, 3, 28, 28)
    changed = x.clone()
    changed[:, :, :2] = 0  # the top two rows lie outside every region
    with torch.no_grad():
        assert torch.equal(net(x), net(changed))
        changed[:, :, 8, 8] += 1.0  # inside the left eye's window
        assert not torch.equal(net(x), net(changed))
    # 4 x 4, 2 x 2, 1 x 1 blocks of one token each, 256, 512, 1024 wide
    assert widths[:3] == [(32, 256, 1, 1), (8, 512, 1, 1), (2, 1024, 1, 1)]


def test_htnet_blocks_are_the_maps_tiles_and_attention_sees_each_tile_on_larger_images():
    x = torch.randn(2, 5, 8, 8)
    blocks = _to_blocks(x, 4)  # 4 x 4 tiles of 2 x 2 positions, sample by sample, row by row
    assert blocks.shape == (32, 5, 2, 2) and torch.equal(blocks[16 + 4 * 1 + 2], x[1, :, 2:4, 4:6])
    assert torch.equal(_from_blocks(blocks, 4), x)
    net = HTNet(num_classes=3, image_size=56, dim=8, heads=1, block_repeats=(1, 1, 1)).eval()
    tokens = []
    net.levels[0].register_forward_hook(lambda m, args, out: tokens.append(args[0].shape[-2:]))
    assert net(torch.rand(1, 3, 56, 56)).shape == (1, 3) and tokens == [(2, 2)]  # 56 / 7 / 4: 2 x 2 tokens a tile


def test_a_small_htnet_overfits_a_tiny_batch():
    torch.manual_seed(0)
    net = HTNet(num_classes=3, regions=FacialRegions(), dim=16, heads=2, block_repeats=(1, 1, 1))
    first, last = _overfits(net)
    assert last < 0.05 < 1.0 < first


def test_dual_inception_is_as_published_and_reads_only_the_two_flow_channels():
    net = build("dual_inception").eval()
    assert sum(p.numel() for p in net.parameters()) == 6_449_867  # 2 x 64 x 7 x 7 features into 1024
    x = torch.rand(2, 3, 28, 28)
    changed = x.clone()
    changed[:, 2] = 0  # optical strain
    assert torch.equal(net(x), net(changed))
    first, last = _overfits(DualInception(num_classes=3, hidden=64), steps=30, lr=3e-3)
    assert last < 0.1 < 1.0 < first


def test_rcn_attention_has_no_parameters_and_weights_the_features_by_class_maps():
    net = build("rcn")
    assert sum(p.numel() for p in net.parameters()) == 55_747
    assert sum(isinstance(m, nn.Conv2d) for m in net.modules()) == 3  # stem, feed-forward, one recurrent conv
    features = torch.zeros(1, 1, 2, 2)
    features[0, 0, 0, 0] = 1.0
    weight = torch.tensor([[2.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]])  # two classes
    # class 0: map [2, 0, 0, 0] -> [1, 0, 0, 0]; class 1: [1, 0, 0, 0] -> [1, 0, 0, 0]
    assert torch.equal(class_weight_attention(features, weight).flatten(), torch.tensor([1.0, 0, 0, 0]))
    first, last = _overfits(RCN(num_classes=3, dropout=0.0), steps=30, lr=1e-2)
    assert last < 0.1 < 1.0 < first


@pytest.mark.parametrize("model_class", [RCN, OffApexNet, FaceTopoNet], ids=lambda c: c.__name__)
def test_dropout_masks_follow_the_generator(model_class):
    """What lets folds train side by side in threads (trainer.fold_workers) reproducibly."""
    net = model_class(num_classes=3).train()
    x = torch.rand(8, 3, 28, 28)
    outputs = []
    for seed in (7, 7, 8):
        net.generator = torch.Generator().manual_seed(seed)
        outputs.append(net(x))
    assert torch.equal(outputs[0], outputs[1]) and not torch.equal(outputs[0], outputs[2])
