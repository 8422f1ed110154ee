"""``python -m mer.train``: train and evaluate a model under a subject-independent protocol.

The experiment itself is :mod:`mer.experiment`; this is its Hydra entry point, which checks the
command line first so a mistyped key or group gets one line that says what to type.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from mer.compose import CONFIGS
from mer.config import register
from mer.config_check import ConfigError, check_command_line
from mer.data.annotations import AnnotationError
from mer.experiment import run

register()


@hydra.main(config_path="../configs", config_name="config", version_base="1.3")
def _job(cfg: DictConfig) -> None:
    hydra_cfg = HydraConfig.get()
    if int(os.environ.get("RANK", "0")) > 0:
        logging.getLogger().setLevel(logging.WARNING)  # torchrun helper processes: the writer logs
    folds_dir = None
    if cfg.evaluation.fold is not None and hydra_cfg.mode == RunMode.MULTIRUN:
        folds_dir = Path(hydra_cfg.sweep.dir) / "folds"  # every job of the sweep adds its fold here
    try:
        run(cfg, Path(hydra_cfg.runtime.output_dir), folds_dir)
    except (AnnotationError, ConfigError) as error:  # a sheet's row, a key, a file: its own lines, no traceback
        sys.exit(f"mer.train: {error}")


def main() -> None:
    """Check the command line, then hand it to Hydra."""
    try:
        check_command_line(sys.argv[1:], CONFIGS)
    except ConfigError as error:
        sys.exit(f"mer.train: {error}")
    _job()


if __name__ == "__main__":
    main()
