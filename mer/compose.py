"""The front door every command shares: the run configuration composed from ``configs/`` and a
command line (after the checks that name a mistyped key or group in one line), and the samples its
``dataset`` configures, read one way for training, prediction, spotting and the data tools.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig

from mer.data.annotations import AnnotationError, Sample

log = logging.getLogger(__name__)

#: The configuration folder ``python -m mer.train`` and every other command compose from.
CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def compose_config(overrides: Sequence[str]) -> DictConfig:
    """The run configuration for Hydra ``overrides`` (``dataset=smic``, ``dataset.root=...``), as
    ``python -m mer.train`` composes it, after the same command-line checks
    (:class:`~mer.config_check.ConfigError` names the fix of a mistyped key or group)."""
    from hydra import compose, initialize_config_dir

    from mer.config_check import check_command_line

    check_command_line(overrides, CONFIGS)  # registers the schema too
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        return compose("config", overrides=list(overrides))


#: How :func:`load_samples` treats the clips: ``checked`` (each opened by its reader, its frame
#: numbers checked), ``present`` (none opened; rows of a partial copy, ``skip_missing``, whose clip
#: is absent are left out, as the reader would) or ``sheet`` (the sheet alone, no clip looked at).
CLIPS = ("checked", "present", "sheet")


def load_samples(cfg: DictConfig, *, labelled: bool = True, clips: str = "checked") -> list[Sample]:
    """The samples of ``cfg.dataset`` (``instantiate(cfg.dataset.samples)``), each row checked by its
    reader; a reader's own error (an :class:`AnnotationError` naming the sheet and line) is raised as
    itself, not inside Hydra's.

    Where the reader allows it: ``labelled=False`` keeps rows whose emotion is empty or unknown, for
    the commands that need no class (spotting, cropping, prediction; training refuses such rows);
    ``clips`` (:data:`CLIPS`) other than ``checked`` opens no clip, for the tools that open each
    clip in its own job (``present``: one unreadable clip is then reported by its line and the
    others still run) or need the sheet alone (``sheet``).
    """
    from hydra.errors import InstantiationException
    from hydra.utils import get_method, instantiate

    if clips not in CLIPS:
        raise ValueError(f"clips={clips!r}: one of {', '.join(CLIPS)}")
    spec = cfg.dataset.samples
    parameters = inspect.signature(get_method(spec._target_)).parameters
    takes_any = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
    lazy = clips != "checked" and ("check_frames" in parameters or takes_any)
    options = {"check_frames": False} if lazy else {}
    if not labelled and "labelled" in parameters:
        options["labelled"] = False
    try:
        samples = instantiate(spec, **options, _convert_="all")
    except InstantiationException as error:
        if isinstance(error.__cause__, AnnotationError):  # the reader's own message names sheet and line
            raise error.__cause__ from None
        raise
    if lazy and clips == "present" and spec.get("skip_missing", False):
        present = [s for s in samples if s.path.exists()]
        if len(present) < len(samples):
            missing = len(samples) - len(present)
            log.info("%d of %d samples have no frames under the root: left out", missing, len(samples))
        samples = present
    if not samples:
        raise AnnotationError(f"dataset={cfg.dataset.name}: no samples")
    return samples
