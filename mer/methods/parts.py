"""A backbone seen as feature map -> pooled feature vector -> linear classifier.

The methods need the pieces a plain ``forward`` hides: the map before pooling (class activation
maps for EAC, regions for DAN's heads) and the pooled features (uncertainty mixing, the AU head,
confidence and class templates). A model provides them with ``feature_map``, ``embed``,
``classifier``, ``class_maps`` and ``feature_channels`` (STSTNet does); torchvision's video ResNets (r3d, mc3,
r2plus1d, and r3d_cbam, built on them) are split here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torchvision.models.video.resnet import VideoResNet


@dataclass(frozen=True)
class Parts:
    feature_map: Callable[[torch.Tensor], torch.Tensor]
    embed: Callable[[torch.Tensor], torch.Tensor]
    classifier: nn.Linear
    #: ``B x K x ...`` per-position evidence for each class (a class activation map)
    class_maps: Callable[[torch.Tensor], torch.Tensor]
    #: channels of the feature map
    channels: int


def split(model: nn.Module) -> Parts:
    """The model's parts, or a ValueError naming the models that have them."""
    if all(hasattr(model, name) for name in ("feature_map", "embed", "classifier", "class_maps", "feature_channels")):
        return Parts(model.feature_map, model.embed, model.classifier, model.class_maps, model.feature_channels)
    if isinstance(model, VideoResNet):
        return Parts(
            feature_map=lambda x: model.layer4(model.layer3(model.layer2(model.layer1(model.stem(x))))),
            embed=lambda fmap: fmap.mean(dim=(2, 3, 4)),
            classifier=model.fc,
            class_maps=lambda fmap: torch.einsum("bcthw,kc->bkthw", fmap, model.fc.weight),
            channels=model.fc.in_features,  # the classifier sees the globally pooled map
        )
    raise ValueError(
        f"the training methods need a model split into feature map, pooling and classifier; "
        f"{type(model).__name__} is not (use model=ststnet, r3d, mc3, r2plus1d or r3d_cbam)"
    )
