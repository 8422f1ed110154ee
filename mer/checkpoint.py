"""Trained models on disk: weights with the configuration and class names that give them meaning,
and what the run did to a clip before the model saw it (``face``: the face stage; ``input``: the
kind, size, key frames and normalisation), so that prediction repeats it.

Saved as plain tensors, dicts, lists and strings, so they load with ``weights_only=True`` and no
pickled code runs on load.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import torch
from torch import nn

from mer.atomic import atomic_file
from mer.config_check import ConfigError
from mer.data.build import preprocessing

log = logging.getLogger(__name__)

#: What every checkpoint holds, as :func:`save_checkpoint` writes it (with ``face`` and ``input``
#: when its config has a ``dataset``; checkpoints saved before these were recorded lack them).
KEYS = ("state_dict", "config", "classes")


class Checkpoint(NamedTuple):
    """A loaded checkpoint; ``face`` and ``input`` as :func:`mer.data.build.preprocessing` gives
    them (``None`` where the checkpoint's config has no ``dataset`` to read them from)."""

    model: nn.Module
    config: dict
    classes: list[str]
    face: dict | None
    input: dict | None


def save_checkpoint(path: Path, model: nn.Module, config: dict, classes: Sequence[str]) -> None:
    """Written through :func:`mer.atomic.atomic_file`: an interrupted save leaves the old file whole.
    ``config`` is the run's resolved config; its dataset's face stage and input are recorded."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    saved = {"state_dict": state, "config": config, "classes": list(classes)}
    if "dataset" in config:
        saved |= preprocessing(config["dataset"])
    with atomic_file(path) as handle:
        torch.save(saved, handle)


def _read(path: Path) -> dict:
    """The saved dict, or a :class:`ConfigError` naming ``path`` and what is wrong with it (torch's
    own errors for a file that is not a checkpoint are a traceback or a page about ``weights_only``)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no checkpoint")
    if path.stat().st_size == 0:
        raise ConfigError(f"{path}: an empty file, not a checkpoint")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except OSError as error:
        raise ConfigError(f"{path}: cannot be read ({error.strerror or error})") from None
    except RuntimeError:  # torch's zip reader: the archive ends early or is damaged
        raise ConfigError(f"{path}: a damaged or truncated torch file, not a whole checkpoint") from None
    except Exception:  # noqa: BLE001 - what torch raises for foreign bytes varies with the bytes
        raise ConfigError(f"{path}: not a torch checkpoint (a final_model.pt of trainer.final_fit=true)") from None
    missing = [k for k in KEYS if k not in saved] if isinstance(saved, dict) else list(KEYS)
    if missing or not isinstance(saved["config"], dict) or "model" not in saved["config"]:
        lacks = ", ".join(missing) if missing else "config.model"
        raise ConfigError(f"{path}: a torch file but not a mer checkpoint (it has no {lacks})")
    return saved


def load_checkpoint(path: Path) -> Checkpoint:
    """The model in eval mode with its resolved config, class names, face stage and input; a file
    that is not a whole mer checkpoint is a :class:`~mer.config_check.ConfigError` naming it.

    A checkpoint saved before the face stage and input were recorded has them read from its
    ``config.dataset`` (the same values), with a one-line warning naming the file.
    """
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    path = Path(path)
    saved = _read(path)
    config, classes = saved["config"], saved["classes"]
    check_model_targets(config["model"], where=f"{path}: config.model")
    model = instantiate(OmegaConf.create(config["model"]), num_classes=len(classes))
    try:
        model.load_state_dict(saved["state_dict"])
    except RuntimeError as error:  # torch lists every missing and unexpected key over many lines
        raise ConfigError(f"{path}: its weights do not fit its config.model ({' '.join(str(error).split())})") from None
    recorded = {key: saved[key] for key in ("face", "input") if key in saved}
    if len(recorded) < 2 and "dataset" in config:
        recorded = preprocessing(config["dataset"])
        log.warning(
            "%s: saved without its face stage and input; read from its config.dataset (face stage %s)",
            path,
            recorded["face"]["mode"],
        )
    return Checkpoint(model.eval(), config, classes, recorded.get("face"), recorded.get("input"))


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
                    raise ConfigError(
                        f"{where}._target_ is {value!r}: a checkpoint may only build mer.models (refused, nothing run)"
                    )
            else:
                check_model_targets(value, where=f"{where}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            check_model_targets(value, where=f"{where}[{i}]")
