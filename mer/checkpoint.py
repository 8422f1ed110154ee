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
    model = instantiate(OmegaConf.create(config["model"]), num_classes=len(classes))
    model.load_state_dict(saved["state_dict"])
    return model.eval(), config, classes
