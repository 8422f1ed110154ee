"""The backbone with the enabled methods around it, and the training loss they add up to."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from mer.config_check import ConfigError
from mer.data.transforms import Normalization, mirror
from mer.methods.au import AUHead, au_targets, au_vocabulary, cooccurrence_graph, masked_bce
from mer.methods.confidence import ConfidenceWeighting
from mer.methods.dan import CrossAttentionHeads, partition_loss
from mer.methods.eac import flip_consistency, random_erase
from mer.methods.parts import split
from mer.methods.uncertainty import UncertaintyMixing

NAMES = ("uncertainty", "eac", "au", "confidence", "dan")


class MethodModel(nn.Module):
    """``forward`` predicts as the backbone does (through DAN's heads when they are on);
    :meth:`training_loss` is the loss of one training batch with every enabled method."""

    def __init__(
        self,
        backbone: nn.Module,
        methods: Mapping,
        *,
        num_classes: int,
        labels: Sequence[int],
        aus: Sequence[Sequence[str]],
        norm: Normalization,
    ):
        super().__init__()
        self.backbone = backbone
        self.methods = {name: dict(methods[name]) for name in NAMES if methods[name]["enabled"]}
        self.parts = split(backbone, needed_by=", ".join(f"methods.{name}" for name in self.methods))
        if "eac" in self.methods and self.parts.class_maps is None:
            raise ConfigError(
                f"methods.eac needs a class activation map to mirror; {type(backbone).__name__} has none as configured "
                "(a transformer that prunes tokens: set model.keep_tokens=1)"
            )
        self.norm = norm
        self._generator: torch.Generator | None = None
        self.dan = self.dan_classifier = None
        dim = self.parts.classifier.in_features
        if "dan" in self.methods:
            if "eac" in self.methods:
                raise ConfigError(
                    "methods.eac and methods.dan cannot be combined: DAN's fused heads have no class maps"
                )
            cfg = self.methods["dan"]
            dim = self.parts.channels
            self.dan = CrossAttentionHeads(dim, num_heads=cfg["num_heads"], reduction=cfg["reduction"])
            self.dan_classifier = nn.Linear(dim, num_classes)
        self.uncertainty = None
        if "uncertainty" in self.methods:
            self.uncertainty = UncertaintyMixing(dim, self.methods["uncertainty"]["hidden"])
        self.confidence = None
        if "confidence" in self.methods:
            cfg = self.methods["confidence"]
            self.confidence = ConfidenceWeighting(
                dim,
                labels=torch.as_tensor(labels),
                num_classes=num_classes,
                high_fraction=cfg["high_fraction"],
                margin=cfg["margin"],
                relabel=cfg["relabel"],
                relabel_start=cfg["relabel_start"],
                relabel_fraction=cfg["relabel_fraction"],
                relabel_margin=cfg["relabel_margin"],
            )
        self.au = None
        self.au_vocabulary: list[str] = []
        if "au" in self.methods:
            cfg = self.methods["au"]
            self.au_vocabulary = au_vocabulary(aus, cfg["min_count"])
            if not self.au_vocabulary:
                raise ConfigError(
                    f"methods.au needs action-unit annotations; no AU occurs in {cfg['min_count']} or more training "
                    "samples (this dataset's samples carry none, or lower methods.au.min_count)"
                )
            targets, mask = au_targets(aus, self.au_vocabulary)
            self.register_buffer("au_targets", targets)
            self.register_buffer("au_mask", mask)
            graph = cooccurrence_graph(targets[mask], cfg["threshold"]) if cfg["graph"] else None
            self.au = AUHead(dim, len(self.au_vocabulary), graph=graph)

    @property
    def generator(self) -> torch.Generator | None:
        return self._generator

    @generator.setter
    def generator(self, generator: torch.Generator | None) -> None:
        """Erasing and mixing partners draw from it, and so does the backbone's dropout if it can."""
        self._generator = generator
        if hasattr(self.backbone, "generator"):
            self.backbone.generator = generator

    @property
    def classifier(self) -> nn.Linear:
        return self.dan_classifier if self.dan is not None else self.parts.classifier

    def _features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """``(feature map, pooled features, DAN head outputs or None)``."""
        fmap = self.parts.feature_map(x)
        if self.dan is None:
            return fmap, self.parts.embed(fmap), None
        features, heads = self.dan(fmap)
        return fmap, features, heads

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self._features(x)[1])

    def au_probabilities(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.au(self._features(x)[1]))

    def training_loss(
        self, x: torch.Tensor, y: torch.Tensor, index: torch.Tensor, loss_fn: nn.Module
    ) -> tuple[torch.Tensor, None]:
        """One batch's loss and no logits (the methods' losses hide them); ``index`` are the
        samples' positions in the training set."""
        n = len(y)
        if self.confidence is not None:
            y = self.confidence.targets(index)
        if self.eac is not None:
            x = random_erase(x, self._generator, scale=tuple(self.eac["erase_scale"]))
            x = torch.cat([x, mirror(x, self.norm, self.eac["negate_channels"])])
            y, index = y.repeat(2), index.repeat(2)
        fmap, features, heads = self._features(x)
        extra = features.new_zeros(())
        weight = None
        if self.confidence is not None:
            confidence = self.confidence(features)
            weight = self.confidence.sample_weights(confidence)
            extra = extra + self.confidence.rank_loss(confidence)
            self.confidence.record(index[:n], features[:n].detach(), confidence[:n].detach())
        if self.uncertainty is not None:
            device = self._generator.device if self._generator is not None else None
            partner = torch.randperm(len(y), generator=self._generator, device=device).to(y.device)
            loss = self.uncertainty.loss(
                features, y, classifier=self.classifier, loss_fn=loss_fn, partner=partner, sample_weight=weight
            )
        else:
            loss = loss_fn(self.classifier(features), y, sample_weight=weight)
        if self.eac is not None:
            maps = self.parts.class_maps(fmap)
            extra = extra + self.eac["weight"] * flip_consistency(maps[:n], maps[n:])
        if self.au is not None:
            extra = extra + self.methods["au"]["weight"] * masked_bce(
                self.au(features), self.au_targets[index], self.au_mask[index]
            )
        if heads is not None:
            extra = extra + self.methods["dan"]["weight"] * partition_loss(heads)
        return loss + extra, None

    @property
    def eac(self) -> dict | None:
        return self.methods.get("eac")

    def end_epoch(self, epoch: int) -> None:
        if self.confidence is not None:
            self.confidence.end_epoch(epoch)


def with_methods(model: nn.Module, methods: Mapping, **context: Any) -> nn.Module:
    """``model`` itself when no method is enabled, else ``MethodModel(model, methods, **context)``:
    ``num_classes``, the training samples' ``labels`` and ``aus`` in training-set order, and the
    input ``norm``."""
    if not any(methods[name]["enabled"] for name in NAMES):
        return model
    return MethodModel(model, methods, **context)
