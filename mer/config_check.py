"""First-run mistakes on the command line, caught before Hydra composes, each as one line saying what
to type: a config group written as a key (``dataset.classes=megc3``), a choice that is not there
(``model=r3dd``), a key that is not there (``trainer.epoch=3``), a model whose input the dataset
cannot give (``model=ststnet`` on RGB clips)."""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

#: Input kinds by the tensor a model gets: clips are ``C x T x H x W``, images ``C x H x W``.
CLIP_KINDS, IMAGE_KINDS = ("clips", "flow_clip"), ("flow", "images")


class ConfigError(ValueError):
    """A user's mistake on the command line or in a file it names (a checkpoint that is not one, a
    run directory another run holds); the message is one line that names the key or file and the fix."""


def _groups(config_dir: Path) -> dict[str, list[str]]:
    """Each config group (``dataset/classes``) and its choices."""
    return {
        str(d.relative_to(config_dir)): sorted(p.stem for p in d.glob("*.yaml"))
        for d in sorted(config_dir.rglob("*"))
        if d.is_dir() and any(d.glob("*.yaml"))
    }


def _hint(word: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def _split(override: str) -> tuple[str, str] | None:
    """``(key, value)`` of a plain ``key=value`` override; None for flags, ``+``/``~`` and Hydra's own keys."""
    if override.startswith(("-", "+", "~")) or "=" not in override:
        return None
    key, value = override.split("=", 1)
    if key.startswith("hydra.") or key.startswith("hydra/") or key == "hydra":
        return None
    return key.strip(), value.strip()


def check_groups(overrides: Sequence[str], groups: dict[str, list[str]]) -> None:
    """Groups written as keys and choices that do not exist (``groups``: the config folder's, by :func:`_groups`)."""
    for override in overrides:
        parsed = _split(override)
        if parsed is None:
            continue
        key, value = parsed
        as_group = key.replace(".", "/")
        if "." in key and as_group in groups:
            raise ConfigError(
                f"{override}: {as_group} is a config group, not a key; write {as_group}={value} "
                f"(choices: {', '.join(groups[as_group])})"
            )
        if key not in groups or "(" in value or value.startswith("${"):
            continue  # a sweep function (choice(...)) or an interpolation: Hydra's to judge
        for choice in value.split(","):  # a multirun sweep lists several
            if choice not in groups[key] and choice != "null":
                raise ConfigError(
                    f"{override}: there is no {key} {choice!r}{_hint(choice, groups[key])}; "
                    f"choose {key}=one of {', '.join(groups[key])}"
                )


def _keys(node: object, prefix: str = "") -> list[str]:
    if not isinstance(node, DictConfig):
        return []
    out = []
    for key in node.keys():
        path = f"{prefix}{key}"
        out.append(path)
        child = node._get_node(key)
        if isinstance(child, DictConfig) and not child._is_missing() and not child._is_none():
            out += _keys(child, f"{path}.")
    return out


def check_keys(overrides: Sequence[str], cfg: DictConfig, groups: dict[str, list[str]]) -> None:
    """Keys that the composed configuration (``cfg``, composed with the group choices only) lacks."""
    known = None
    for override in overrides:
        parsed = _split(override)
        if parsed is None or parsed[0] in groups:
            continue
        key = parsed[0]
        if not _has(cfg, key):
            known = known or _keys(cfg)
            parent = key.rsplit(".", 1)[0] if "." in key else ""
            siblings = [k for k in known if k.rsplit(".", 1)[0] == parent] if parent else known
            raise ConfigError(
                f"{override}: there is no key {key}{_hint(key, siblings or known)}; "
                f"to add a new key on purpose write +{override}"
            )


def _has(cfg: DictConfig, key: str) -> bool:
    node = cfg
    for part in key.split("."):
        if not isinstance(node, DictConfig):
            return True  # inside a list or a value: Hydra's to judge
        if part not in node.keys():
            return False
        node = node._get_node(part)
    return True


#: ``trainer.device``: auto, cpu, cuda or cuda:N.
_DEVICE = re.compile(r"auto|cpu|cuda(:\d+)?")


def check_trainer(trainer: DictConfig) -> None:
    """Trainer values a schema cannot type: each wrong one named in one line with what to give."""
    from mer.training.trainer import LAST_BATCH

    device = str(trainer.device)
    if not _DEVICE.fullmatch(device):
        raise ConfigError(f"trainer.device={device!r}: give auto, cpu, cuda or cuda:N")
    fuse = trainer.fuse
    if fuse != "auto" and not (isinstance(fuse, int) and not isinstance(fuse, bool) and fuse >= 1):
        raise ConfigError(f"trainer.fuse={fuse!r}: give auto, or how many folds at most train at once (1: off)")
    if trainer.last_batch not in LAST_BATCH:
        raise ConfigError(f"trainer.last_batch={trainer.last_batch!r}: give {' or '.join(LAST_BATCH)}")


def check_input(cfg: DictConfig) -> None:
    """The model's declared input (``input.kind``) against what the dataset gives (``dataset.kind``),
    and the trainer's values (:func:`check_trainer`)."""
    check_trainer(cfg.trainer)
    given, wanted = cfg.dataset.get("kind", "clips"), cfg.input.kind
    clash = (given in CLIP_KINDS and wanted in IMAGE_KINDS) or (given in IMAGE_KINDS and wanted in CLIP_KINDS)
    if clash:
        size = "[" + ",".join(str(v) for v in cfg.input.size) + "]"
        fix = (
            f"dataset.kind={wanted} dataset.input_size={size}"
            if given == "clips" and wanted == "flow"
            else f"a model for {given} inputs"
        )
        raise ConfigError(
            f"dataset {cfg.dataset.name!r} gives dataset.kind={given}, but the model takes input.kind={wanted} "
            f"({'clips' if wanted in CLIP_KINDS else 'one image a sample'}): set {fix}"
        )


def check_command_line(overrides: Sequence[str], config_dir: Path, config_name: str = "config") -> None:
    """Groups, choices and keys of a command line, before Hydra composes it (which would name a
    missing key without the fix, or fail deep inside on a group given as a key)."""
    from hydra import compose, initialize_config_dir

    from mer.config import register

    register()  # the schema the configs' defaults name
    groups = _groups(config_dir)
    check_groups(overrides, groups)
    choices = [o for o in overrides if (p := _split(o)) is not None and p[0] in groups and "," not in p[1]]
    with initialize_config_dir(config_dir=str(config_dir.resolve()), version_base="1.3"):
        check_keys(overrides, compose(config_name, overrides=choices), groups)
        check_values(overrides, lambda plain: compose(config_name, overrides=plain))


def check_values(overrides: Sequence[str], compose: Callable[[list[str]], DictConfig]) -> None:
    """A value of the wrong type (``trainer.epochs=two``) and a mandatory value left unset
    (``dataset=casme2`` without ``dataset.root``), each as one line: Hydra would print its merge
    error over several lines, or a traceback once the run reads the missing value. Sweeps
    (``seed=0,1,2``, ``range(...)``) are Hydra's to expand and are left out of the trial."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    overrides = [o for o in overrides if "=" in o and not o.startswith("-")]  # flags: -m, --cfg job, ...
    plain = [o for o in overrides if (p := _split(o)) is None or not re.search(r"[,(]", p[1])]
    try:
        cfg = compose(plain)
    except (HydraException, OmegaConfBaseException) as error:
        cause = error.__cause__ or error
        lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
        bad = next((o for o in plain if o in str(error)), None)
        raise ConfigError(f"{bad + ': ' if bad else ''}{lines[0] if lines else type(cause).__name__}") from None
    given = {p[0].lstrip("+~") for o in overrides if (p := _split(o)) is not None}
    missing = [key for key in missing_values(cfg) if key not in given]
    if missing:
        unset = ", ".join(missing)
        raise ConfigError(f"{unset}: not set; give {missing[0]}=... on the command line (see docs/datasets.md)")


def missing_values(cfg: DictConfig, prefix: str = "") -> list[str]:
    """Dotted keys of ``cfg`` whose value is ``???``, found without resolving interpolations (which
    would stop at the first one that reads a missing value)."""
    found = []
    for key in cfg.keys():
        if OmegaConf.is_missing(cfg, key):
            found.append(f"{prefix}{key}")
        elif isinstance(node := cfg._get_node(key), DictConfig):
            found.extend(missing_values(node, f"{prefix}{key}."))
    return found


def path_or_overrides(
    inputs: Sequence[str], parser: argparse.ArgumentParser, noun: str
) -> tuple[Path | None, list[str]]:
    """A command's positional inputs as one ``noun`` path or Hydra ``dataset=`` overrides, never
    both (``python -m mer.spot``, ``python -m mer.predict``); anything else is a usage error."""
    overrides = [a for a in inputs if "=" in a]
    paths = [Path(a) for a in inputs if "=" not in a]
    if overrides and paths or len(paths) > 1:
        parser.error(f"give one {noun}, or dataset= overrides")
    return (paths[0] if paths else None), overrides


def reporting_user_errors(work: Callable[[], int]) -> int:
    """``work()``'s exit status, or 2 after printing a user error (a key, a path, a sheet row) as
    one line, no traceback: the data tools' front door."""
    from hydra.errors import HydraException, InstantiationException
    from omegaconf.errors import OmegaConfBaseException

    from mer.data.annotations import AnnotationError

    try:
        return work()
    except InstantiationException as error:  # a reader's own error, wrapped by Hydra
        cause = error.__cause__
        print(f"error: {cause if isinstance(cause, AnnotationError) else error}", file=sys.stderr)
    except ConfigError as error:  # ours: a line each for what it names (a sample a line)
        print(f"error: {error}", file=sys.stderr)
    except (AnnotationError, HydraException, OmegaConfBaseException) as error:
        print(f"error: {str(error).splitlines()[0]}", file=sys.stderr)  # OmegaConf appends its key dump
    return 2
