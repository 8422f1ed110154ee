"""A backbone seen as feature map -> pooled feature vector -> linear classifier.

The methods need the pieces a plain ``forward`` hides: the map before pooling (class activation
maps for EAC, regions for DAN's heads) and the pooled features (uncertainty mixing, the AU head,
confidence and class templates). A model provides them by being :class:`Splittable` (STSTNet, R3D,
the temporal transformer do); torchvision's video ResNets (mc3, r2plus1d, and r3d_cbam, built on
them) are split here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch
from torch import nn
from torchvision.models.video.resnet import VideoResNet

from mer.config_check import ConfigError


@runtime_checkable
class Splittable(Protocol):
    """A model whose ``forward`` is ``classifier(embed(feature_map(x)))`` and that says where its
    classes are in the map."""

    #: channels of the feature map
    feature_channels: int
    #: ``B x K x ...`` per-position evidence for each class (a class activation map); None where the
    #: map has no layout to mirror (a transformer that prunes tokens)
    class_maps: Callable[[torch.Tensor], torch.Tensor] | None

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """``B x C x ...``: channels first, then the positions."""
        ...

    def embed(self, fmap: torch.Tensor) -> torch.Tensor:
        """The map pooled to the classifier's ``B x C`` input."""
        ...

    @property
    def classifier(self) -> nn.Linear: ...


@dataclass(frozen=True)
class Parts:
    feature_map: Callable[[torch.Tensor], torch.Tensor]
    embed: Callable[[torch.Tensor], torch.Tensor]
    classifier: nn.Linear
    #: ``B x K x ...`` per-position evidence for each class (a class activation map), or None
    class_maps: Callable[[torch.Tensor], torch.Tensor] | None
    #: channels of the feature map
    channels: int


def split(model: nn.Module, *, needed_by: str) -> Parts:
    """The model's parts, or a ConfigError naming ``needed_by`` (the switches on) and the models that have them."""
    if isinstance(model, Splittable):
        return Parts(model.feature_map, model.embed, model.classifier, model.class_maps, model.feature_channels)
    if isinstance(model, VideoResNet):
        return Parts(
            feature_map=lambda x: model.layer4(model.layer3(model.layer2(model.layer1(model.stem(x))))),
            embed=lambda fmap: fmap.mean(dim=(2, 3, 4)),
            classifier=model.fc,
            class_maps=lambda fmap: torch.einsum("bcthw,kc->bkthw", fmap, model.fc.weight),
            channels=model.fc.in_features,  # the classifier sees the globally pooled map
        )
    raise ConfigError(
        f"{needed_by}: the training methods need a model split into feature map, pooling and classifier; "
        f"{type(model).__name__} is not "
        "(use model=ststnet, r3d, mc3, r2plus1d, r3d_cbam or transformer)"
    )
