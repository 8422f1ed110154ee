"""Trained models on disk: weights with the configuration and class names that give them meaning.

Saved as plain tensors, dicts, lists and strings, so they load with ``weights_only=True`` and no
pickled code runs on load.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn


def save_checkpoint(path: Path, model: nn.Module, config: dict, classes: Sequence[str]) -> None:
    """Write atomically: a temporary file beside ``path``, then a rename."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"state_dict": state, "config": config, "classes": list(classes)}, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path) -> tuple[nn.Module, dict, list[str]]:
    """``(model in eval mode, resolved config, class names)``."""
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no checkpoint")
    saved = torch.load(path, map_location="cpu", weights_only=True)
    config, classes = saved["config"], saved["classes"]
    check_model_targets(config["model"], where=f"{path}: config.model")
    model = instantiate(OmegaConf.create(config["model"]), num_classes=len(classes))
    model.load_state_dict(saved["state_dict"])
    return model.eval(), config, classes


class UnsafeCheckpoint(ValueError):
    """A checkpoint's model config names something outside :mod:`mer.models`."""


def check_model_targets(node: object, *, where: str) -> None:
    """Refuse a model config that would build anything but mer's own models.

    ``weights_only=True`` stops pickled code, not a config: ``instantiate`` calls whatever a
    ``_target_`` names (``builtins.open`` truncates a file). Every ``_target_`` in the tree must be a
    class or function defined in a ``mer.models`` module (not merely reachable through one).
    """
    from hydra.utils import get_object

    if isinstance(node, dict):
        for key, value in node.items():
            if key == "_target_":
                obj = None
                if isinstance(value, str) and value.startswith("mer.models."):
                    try:
                        obj = get_object(value)
                    except Exception:  # noqa: BLE001 - any failure to locate is a refusal
                        obj = None
                module = getattr(obj, "__module__", None) or ""
                if not (callable(obj) and module.startswith("mer.models.")):
                    raise UnsafeCheckpoint(
                        f"{where}._target_ is {value!r}: a checkpoint may only build mer.models (refused, nothing run)"
                    )
            else:
                check_model_targets(value, where=f"{where}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            check_model_targets(value, where=f"{where}[{i}]")
