"""Every model config builds from scratch and trains one step on a tiny clip."""

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from mer.compose import CONFIGS
from mer.models.cbam import CBAM3d
from mer.models.transformer import TemporalTransformer, attentive_token_pooling

MODELS = sorted(p.stem for p in (CONFIGS / "model").glob("*.yaml"))
#: models of one-image inputs (onset-apex flow), with the dataset overrides they need
IMAGE_MODELS = {
    "ststnet": ["dataset=megc2019_flow", "dataset.root=unused"],
    "offapexnet": ["dataset=megc2019_flow", "dataset.root=unused"],
    "facetoponet": ["dataset=megc2019_flow", "dataset.root=unused"],
    "htnet": ["dataset=megc2019_flow", "dataset.root=unused"],
    "dual_inception": ["dataset=megc2019_flow", "dataset.root=unused"],
    "rcn": ["dataset=megc2019_flow", "dataset.root=unused"],
    "ensemble_flow": ["dataset=megc2019_flow", "dataset.root=unused"],
    "sssnet": ["dataset=megc2019_flow", "dataset.root=unused"],
}


def build(model: str, *overrides: str, num_classes: int = 3) -> torch.nn.Module:
    data = IMAGE_MODELS.get(model, ["dataset.input_size=[32,32]"])
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose("config", overrides=[f"model={model}", *data, *overrides])
    return instantiate(cfg.model, num_classes=num_classes)


def test_the_zoo_is_complete():
    zoo = {"r3d", "mc3", "r2plus1d", "x3d", "slowfast", "transformer", "r3d_cbam", "ststnet", "offapexnet"}
    zoo |= {"htnet", "dual_inception", "rcn", "ensemble_flow", "sssnet"}
    assert set(MODELS) >= zoo


def test_ststnet_is_as_published():
    net = build("ststnet")
    assert sum(p.numel() for p in net.parameters()) < 2000
    assert net.fc.in_features == 16 * 5 * 5


def test_sssnet_is_as_meb_builds_it():
    from mer.models.sssnet import SSSNet

    meb_size = SSSNet(num_classes=3, input_size=(64, 64))
    assert meb_size.fc1.in_features == 9 * 9 * 64  # MEB's 64 x 64 inputs
    assert build("sssnet").fc1.in_features == 3 * 3 * 64  # the composite's 28 x 28
    convs, norms, dense = 2400 + 32 + 18432 + 64, 2 * (32 + 64), 5184 * 256 + 256 + 256 * 3 + 3
    assert sum(p.numel() for p in meb_size.parameters()) == convs + norms + dense


def test_offapexnet_is_as_published_and_reads_only_the_two_flow_channels():
    net = build("offapexnet").eval()
    assert 2.6e6 < sum(p.numel() for p in net.parameters()) < 2.7e6  # 2.66 M with 28 x 28 inputs
    x = torch.randn(4, 3, 28, 28)
    changed = x.clone()
    changed[:, 2] = 0  # the optical-strain channel
    assert torch.equal(net(x), net(changed))
    changed[:, 1] = 0
    assert not torch.allclose(net(x), net(changed))


@pytest.mark.parametrize("model", MODELS)
def test_forward_and_backward_on_a_tiny_clip(model):
    torch.manual_seed(0)
    net = build(model, num_classes=5)
    x = torch.randn(2, 3, 1, 28, 28) if model in IMAGE_MODELS else torch.randn(2, 3, 8, 32, 32)
    logits = net(x)
    assert logits.shape == (2, 5) and torch.isfinite(logits).all()
    torch.nn.functional.cross_entropy(logits, torch.tensor([0, 4])).backward()
    grads = [p.grad for p in net.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)


def test_pytorchvideo_modules_that_we_rely_on_import():
    import pytorchvideo.data  # noqa: F401
    import pytorchvideo.layers  # noqa: F401
    import pytorchvideo.models  # noqa: F401


def test_light_slowfast_is_smaller():
    full = sum(p.numel() for p in build("slowfast").parameters())
    light = sum(p.numel() for p in build("slowfast", "model.width=16").parameters())
    assert light < full / 8


def test_cbam_with_neutral_attention_halves_then_scales_by_channel():
    cbam = CBAM3d(8, reduction=4)
    torch.nn.init.zeros_(cbam.spatial.conv.weight)
    for layer in cbam.channel.mlp:
        if isinstance(layer, torch.nn.Conv3d):
            torch.nn.init.zeros_(layer.weight)
            torch.nn.init.zeros_(layer.bias)
    x = torch.randn(2, 8, 3, 4, 4)
    # zero MLP: channel gate sigmoid(0 + 0) = 0.5; zero conv: spatial gate 0.5
    assert torch.allclose(cbam(x), x * 0.25)


def test_attentive_token_pooling_keeps_the_most_attended_tokens_in_order():
    x = torch.arange(5, dtype=torch.float).view(1, 5, 1).expand(1, 5, 2)  # cls token, then tokens 1..4
    attention = torch.tensor([[0.1, 0.5, 0.05, 0.35]])
    kept = attentive_token_pooling(x, attention, keep=2)
    assert kept[0, :, 0].tolist() == [0, 2, 4]


def test_transformer_prunes_tokens_after_pool_after_blocks():
    net = TemporalTransformer(
        num_classes=3,
        num_frames=8,
        input_size=(16, 16),
        frame_encoder="patch",
        patch_size=4,
        dim=32,
        depth=3,
        heads=2,
        keep_tokens=0.25,
        pool_after=1,
    )
    lengths = []
    for block in net.blocks:
        block.register_forward_hook(lambda module, args, out: lengths.append(args[0].shape[1]))
    assert net(torch.randn(2, 3, 8, 16, 16)).shape == (2, 3)
    assert lengths == [1 + 128, 1 + 32, 1 + 32]


def test_small_r3d_on_flow_clips_is_small_and_learns_a_toy_motion():
    from mer.models.r3d import R3D

    torch.manual_seed(0)
    assert sum(p.numel() for p in R3D(num_classes=2).parameters()) < 1_500_000
    model = R3D(num_classes=2, dropout=0.0)
    x = torch.randn(8, 3, 8, 28, 28) * 0.1
    y = torch.arange(8) % 2
    x[y == 1, 0, 4:, 10:18, 10:18] += 1.0  # class 1: the horizontal flow of a patch rises mid-clip
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(40):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.1 < 0.5 < losses[0]
    with pytest.raises(ValueError, match="four stages"):
        R3D(num_classes=2, widths=(8, 16))
