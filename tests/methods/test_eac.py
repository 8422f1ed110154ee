import torch
from torchvision.models.video import r3d_18

from mer.data.transforms import Normalization, mirror
from mer.methods.eac import flip_consistency, random_erase
from mer.methods.parts import split


def test_random_erase_blanks_one_rectangle_of_bounded_area_in_every_frame():
    x = torch.ones(64, 3, 4, 20, 30)
    out = random_erase(x, torch.Generator().manual_seed(0), scale=(0.05, 0.2))
    erased = out == 0
    assert torch.equal(erased, erased[:, :1, :1].expand_as(erased))  # same rectangle in every channel and frame
    area = erased[:, 0, 0].float().mean(dim=(1, 2))
    assert area.min() >= 0.03 and area.max() <= 0.23  # the bounds, up to rounding of the sides
    rows, cols = erased[:, 0, 0].any(2), erased[:, 0, 0].any(1)
    assert torch.equal(rows.sum(1) * cols.sum(1), erased[:, 0, 0].sum((1, 2)))  # a full rectangle
    again = random_erase(x, torch.Generator().manual_seed(0), scale=(0.05, 0.2))
    assert torch.equal(out, again)


def test_mirroring_a_flow_image_negates_its_horizontal_flow():
    norm = Normalization(mean=(0.2, 0.5, 0.5), std=(0.5, 0.25, 0.25))
    pixels = torch.randint(0, 256, (2, 3, 1, 5, 7)).float()
    mean, std = torch.tensor(norm.mean).view(1, 3, 1, 1, 1), torch.tensor(norm.std).view(1, 3, 1, 1, 1)

    def to_input(p):
        return (p / 255 - mean) / std

    mirrored_pixels = pixels.flip(-1)
    mirrored_pixels[:, 0] = 255 - mirrored_pixels[:, 0]
    torch.testing.assert_close(mirror(to_input(pixels), norm, [0]), to_input(mirrored_pixels))
    torch.testing.assert_close(mirror(to_input(pixels), norm), to_input(pixels).flip(-1))


def _symmetric_r3d() -> torch.nn.Module:
    model = r3d_18(num_classes=3).eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Conv3d):
                module.weight.copy_((module.weight + module.weight.flip(-1)) / 2)
    return model


def test_flip_consistency_is_zero_for_a_mirror_symmetric_input_and_model():
    torch.manual_seed(0)
    model = _symmetric_r3d()
    parts = split(model, needed_by="methods.eac")
    half = torch.randn(2, 3, 4, 17, 9)
    x = torch.cat([half, half.flip(-1)[..., 1:]], dim=-1)  # 17 wide, symmetric about its middle column
    norm = Normalization()
    with torch.no_grad():
        maps = parts.class_maps(parts.feature_map(torch.cat([x, mirror(x, norm)])))
        assert flip_consistency(maps[:2], maps[2:]) < 1e-10
        asymmetric = torch.randn(2, 3, 4, 17, 17)
        model.layer1[0].conv1[0].weight.add_(torch.randn_like(model.layer1[0].conv1[0].weight))
        maps = parts.class_maps(parts.feature_map(torch.cat([asymmetric, mirror(asymmetric, norm)])))
        assert flip_consistency(maps[:2], maps[2:]) > 1e-4
