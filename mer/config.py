"""Typed schema of the run configuration, registered with Hydra so typos fail before training.

The ``dataset``, ``model`` and ``loss`` groups vary by choice (each model and loss is built from
its ``_target_``), so only their shared parts are typed: :class:`SamplingConfig` and
:class:`Normalization` are checked when the dataset is built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf


@dataclass
class SamplingConfig:
    """Key-frame sequence sampling (see :func:`mer.data.sampling.sample_frames`)."""

    strategy: str = "uniform"
    num_frames: int = 8
    stride: int = 1
    curves_dir: str | None = None


@dataclass
class NormalizationConfig:
    """Model input from uint8 (see :class:`mer.data.transforms.Normalization`)."""

    mean: list[float] = field(default_factory=lambda: [0.45, 0.45, 0.45])
    std: list[float] = field(default_factory=lambda: [0.225, 0.225, 0.225])
    subtract_first_frame: bool = False


@dataclass
class InputConfig:
    """The input a model needs. Frame datasets (the releases, the canonical CSV) take their ``kind``,
    ``input_size``, sampling and normalisation from here, so ``model=...`` brings its input with it;
    a model config sets what it needs (``input.kind=flow_clip``...), and ``dataset.<key>=...`` on the
    command line still wins. These defaults are the plain RGB clips of the torchvision video models.
    """

    kind: str = "clips"
    size: list[int] = field(default_factory=lambda: [112, 112])
    strategy: str = "uniform"
    num_frames: int = 8
    flow_algorithm: str = "tvl1"
    normalization: NormalizationConfig = field(default_factory=NormalizationConfig)


@dataclass
class AugmentConfig:
    """Ranges of the per-clip random similarity (:class:`mer.data.transforms.Augment`); mirroring is ``hflip``."""

    scale: float = 0.0
    rotate: float = 0.0
    translate: float = 0.0


@dataclass
class TrainerConfig:
    device: str = "auto"
    amp: bool = True
    num_threads: int | None = None
    num_workers: int = 0
    prefetch_factor: int = 2
    channels_last: bool | None = None
    compile: bool = False
    epochs: int = 8
    batch_size: int = 16
    eval_batch_size: int = 64
    hflip: float = 0.5
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    mixup: float = 0.0
    clip_cache: str = "memory"
    clip_cache_dir: str = "~/.cache/mer/clips"
    progress: bool = True
    tensorboard: bool = True  # event files of the training curves, where tensorboard is installed
    final_fit: bool = False
    in_memory: bool = False
    last_batch: str = "keep"  # in-memory epochs: keep the last partial batch, or carry it into the next epoch
    fold_workers: int | None = 1
    fuse: Any = "auto"  # folds trained at once as one batched model: auto (as many as fit), N, or 1 (off)
    optimizer: Any = MISSING


@dataclass
class EvaluationConfig:
    protocol: str = "loso"
    num_folds: int = 10
    max_folds: int | None = None
    fold: int | None = None
    selection: str = "last_epoch"


@dataclass
class UncertaintyConfig:
    """Uncertainty-feature mixing (:mod:`mer.methods.uncertainty`)."""

    enabled: bool = False
    hidden: int = 64


@dataclass
class EACConfig:
    """Erasing attention consistency (:mod:`mer.methods.eac`)."""

    enabled: bool = False
    weight: float = 5.0
    erase_scale: list[float] = field(default_factory=lambda: [0.02, 0.25])
    negate_channels: list[int] | None = None


@dataclass
class AUConfig:
    """Auxiliary action-unit head (:mod:`mer.methods.au`)."""

    enabled: bool = False
    weight: float = 1.0
    graph: bool = False
    min_count: int = 5
    threshold: float = 0.4


@dataclass
class ConfidenceConfig:
    """Confidence weighting and re-labelling (:mod:`mer.methods.confidence`)."""

    enabled: bool = False
    high_fraction: float = 0.7
    margin: float = 0.15
    relabel: bool = True
    relabel_start: int = 0
    relabel_fraction: float = 0.1
    relabel_margin: float = 0.2


@dataclass
class DANConfig:
    """Multi-head cross attention (:mod:`mer.methods.dan`)."""

    enabled: bool = False
    num_heads: int = 4
    reduction: int = 4
    weight: float = 1.0


@dataclass
class MethodsConfig:
    uncertainty: UncertaintyConfig = field(default_factory=UncertaintyConfig)
    eac: EACConfig = field(default_factory=EACConfig)
    au: AUConfig = field(default_factory=AUConfig)
    confidence: ConfidenceConfig = field(default_factory=ConfidenceConfig)
    dan: DANConfig = field(default_factory=DANConfig)


@dataclass
class Config:
    seed: int = 0
    dataset: Any = MISSING
    model: Any = MISSING
    loss: Any = MISSING
    schedule: Any = MISSING
    input: InputConfig = field(default_factory=InputConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    methods: MethodsConfig = field(default_factory=MethodsConfig)


def epochs_fraction(epochs: int, fraction: float) -> int:
    """``fraction`` of a run of ``epochs``, as a whole epoch: schedules scale with the run's length."""
    return round(float(fraction) * int(epochs))


def register() -> None:
    """The typed schema and the ``${fraction_of:epochs,f}`` resolver the configs use."""
    ConfigStore.instance().store(name="mer_schema", node=Config)
    OmegaConf.register_new_resolver("fraction_of", epochs_fraction, replace=True)
