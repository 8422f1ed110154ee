import pytest
import torch
from omegaconf import OmegaConf

from mer.config import MethodsConfig
from mer.data.transforms import Normalization
from mer.losses import CrossEntropy
from mer.methods.model import MethodModel, with_methods
from mer.models.offapexnet import OffApexNet
from mer.models.ststnet import STSTNet

SWITCHES = ("uncertainty", "eac", "au", "confidence", "dan")


def methods(*enabled: str) -> dict:
    config = OmegaConf.to_container(OmegaConf.structured(MethodsConfig))
    for name in enabled:
        config[name]["enabled"] = True
    config["au"]["min_count"] = 1
    config["eac"]["negate_channels"] = [0]
    return config


def build(model, *enabled):
    torch.manual_seed(0)
    return with_methods(
        model,
        methods(*enabled),
        num_classes=3,
        labels=[0, 1, 2, 0, 1, 2, 0, 1],
        aus=[("1",), ("12",), ("1", "2"), (), ("4",), ("12", "4"), ("1",), ()],
        norm=Normalization(mean=(0, 0, 0), std=(1, 1, 1)),
    )


def test_with_every_switch_off_the_model_is_returned_as_it_is():
    model = STSTNet(num_classes=3)
    assert build(model) is model


@pytest.mark.parametrize("switch", SWITCHES)
def test_each_switch_trains_the_backbone_and_its_own_parts(switch):
    wrapped = build(STSTNet(num_classes=3), switch)
    assert isinstance(wrapped, MethodModel)
    wrapped.train()
    wrapped.generator = torch.Generator().manual_seed(0)
    assert wrapped.backbone.generator is wrapped.generator
    x, y = torch.rand(8, 3, 1, 28, 28), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    loss, logits = wrapped.training_loss(x, y, torch.arange(8), CrossEntropy(class_counts=[3, 3, 2]))
    assert logits is None
    loss.backward()
    assert torch.isfinite(loss)
    assert wrapped.backbone.conv.weight.grad.abs().sum() > 0
    own = [p for name, p in wrapped.named_parameters() if not name.startswith("backbone.")]
    assert all(p.grad is not None for p in own) and (own or switch == "eac")  # EAC adds a loss, no layers
    wrapped.eval()
    assert wrapped(x).shape == (8, 3)


def test_without_dan_prediction_is_the_backbones_own():
    backbone = STSTNet(num_classes=3).eval()
    wrapped = build(backbone, "uncertainty", "eac", "au", "confidence").eval()
    x = torch.rand(4, 3, 1, 28, 28)
    torch.testing.assert_close(wrapped(x), backbone(x))


def test_models_without_a_feature_map_are_refused_by_name():
    with pytest.raises(ValueError, match="OffApexNet is not"):
        build(OffApexNet(num_classes=3), "eac")
    with pytest.raises(ValueError, match="cannot be combined"):
        build(STSTNet(num_classes=3), "eac", "dan")


def test_the_parts_name_the_channels_of_the_feature_map():
    from torchvision.models.video import r3d_18

    from mer.methods.parts import split

    for model, x in (
        (STSTNet(num_classes=3), torch.rand(2, 3, 1, 28, 28)),
        (r3d_18(num_classes=3), torch.rand(2, 3, 4, 16, 16)),
    ):
        parts = split(model.eval(), needed_by="methods.dan")
        assert parts.feature_map(x).shape[1] == parts.channels
