"""Optical-flow features of clips: the onset-apex flow image and the flow clip, computed once and cached.

Both are horizontal flow, vertical flow and optical strain (array channel 0 = horizontal flow, the
order flow-image sets such as the MEGC composite are read in), computed on the grey frames resized
to ``work_size`` (128 x 128: the scale of the field's published flow images).

- The **onset-apex flow image** (STSTNet, OFF-ApexNet, HTNet): the three float channels are
  resized to the model's input size first and only then min-max scaled to 0-255 per channel. Scaling
  at the work size and rounding to bytes before an area resize (this module's earlier recipe) lets a
  few extreme pixels set the scale and measured 0.04 UF1 lower with the same STSTNet training.
- The **flow clip** (3D CNNs, the temporal transformer): for each sampled frame, the flow from the
  onset, so the model sees the motion build up and fade. Each frame's median flow (the head's drift
  on a registered face) is removed first. One scale per clip keeps the frames'
  relative magnitudes and zero motion at the middle of the byte range: flow is stored as
  ``127.5 + 127.5 u / m`` with ``m`` the clip's largest absolute flow, so a mirrored clip's
  horizontal flow is ``255 - p`` (see :func:`mer.data.transforms.mirror`); strain as ``255 s / max s``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from mer.data.annotations import Sample
from mer.data.cache import DiskClipCache, cache_key
from mer.data.face_stage import FaceStage
from mer.data.frames import open_frames
from mer.data.sampling import input_frames

log = logging.getLogger(__name__)

FLOW_ALGORITHMS = ("farneback", "tvl1", "dis")
WORK_SIZE = (128, 128)


def optical_flow(first: np.ndarray, second: np.ndarray, algorithm: str = "farneback") -> np.ndarray:
    """Dense flow ``H x W x 2`` from ``first`` to ``second`` (grey images in the 0-255 range).

    Farneback with a 15-pixel window: smooth enough that sensor noise on flat skin does not read as
    motion. TV-L1 (OpenCV contrib) is the field's choice, the most accurate and the slowest; DIS the
    fastest.
    """
    a, b = (np.clip(x, 0, 255).astype(np.uint8) for x in (first, second))
    if algorithm == "farneback":
        return cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.1, 0)
    if algorithm == "tvl1":
        return cv2.optflow.DualTVL1OpticalFlow_create().calc(a, b, None)
    if algorithm == "dis":
        return cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM).calc(a, b, None)
    raise ValueError(f"unknown flow algorithm {algorithm!r}; choose one of {', '.join(FLOW_ALGORITHMS)}")


def optical_strain(flow: np.ndarray) -> np.ndarray:
    """Magnitude of the strain tensor of a flow field: ``sqrt(u_x^2 + v_y^2 + (u_y + v_x)^2 / 2)``."""
    u_y, u_x = np.gradient(flow[..., 0])
    v_y, v_x = np.gradient(flow[..., 1])
    return np.sqrt(u_x**2 + v_y**2 + 0.5 * (u_y + v_x) ** 2)


def grey_frames(frames: np.ndarray, size: Sequence[int], interpolation: int = cv2.INTER_AREA) -> np.ndarray:
    """``N x H x W x 3`` RGB uint8 to ``N x size`` float32 grey (``interpolation`` when shrinking)."""
    h, w = int(size[0]), int(size[1])
    out = []
    for frame in frames:
        grey = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)
        if grey.shape != (h, w):
            shrink = grey.shape[0] > h or grey.shape[1] > w
            grey = cv2.resize(grey, (w, h), interpolation=interpolation if shrink else cv2.INTER_LINEAR)
        out.append(grey.astype(np.float32))
    return np.stack(out)


def resolve_algorithm(algorithm: str) -> str:
    """TV-L1 lives in OpenCV contrib: without it, Farneback (logged), so a plain OpenCV still runs."""
    if algorithm == "tvl1" and not hasattr(cv2, "optflow"):
        log.warning("OpenCV without contrib (cv2.optflow): Farneback flow instead of TV-L1")
        return "farneback"
    return algorithm


def flow_fields(
    onset: np.ndarray,
    frames: np.ndarray,
    *,
    algorithm: str = "tvl1",
    work_size: Sequence[int] = WORK_SIZE,
    interpolation: int = cv2.INTER_AREA,
) -> np.ndarray:
    """``N x h x w x 3`` float32 at ``work_size``: horizontal flow, vertical flow and strain from ``onset``
    to each of ``frames`` (RGB uint8)."""
    algorithm = resolve_algorithm(algorithm)
    grey = grey_frames(np.concatenate([onset[None], frames]), work_size, interpolation)
    out = np.empty((len(frames), *grey.shape[1:], 3), np.float32)
    for i, target in enumerate(grey[1:]):
        flow = optical_flow(grey[0], target, algorithm)
        out[i, ..., :2] = flow
        out[i, ..., 2] = optical_strain(flow)
    return out


def _resize_channels(fields: np.ndarray, size: Sequence[int], interpolation: int = cv2.INTER_AREA) -> np.ndarray:
    """Resize ``N x h x w x 3`` float fields to ``N x size x 3``."""
    h, w = int(size[0]), int(size[1])
    if fields.shape[1:3] == (h, w):
        return fields
    return np.stack([cv2.resize(f, (w, h), interpolation=interpolation) for f in fields])


def flow_image(
    onset: np.ndarray,
    apex: np.ndarray,
    *,
    size: Sequence[int] = (28, 28),
    algorithm: str = "tvl1",
    work_size: Sequence[int] = WORK_SIZE,
) -> np.ndarray:
    """``H x W x 3`` uint8 onset-apex flow image: flow and strain resized to ``size``, then each channel
    min-max scaled to 0-255. Both resizes are bilinear, as the field's code does them (chosen over
    area resizing by STSTNet LOSO on 16 CASME II subjects, within the seed spread: docs/clip_models.md)."""
    linear = cv2.INTER_LINEAR
    fields = flow_fields(onset, apex[None], algorithm=algorithm, work_size=work_size, interpolation=linear)
    small = _resize_channels(fields, size, linear)[0]
    low, high = small.min(axis=(0, 1)), small.max(axis=(0, 1))
    scaled = (small - low) / np.where(high > low, high - low, np.float32(1.0))
    return np.round(scaled * 255).astype(np.uint8)


def flow_clip(
    frames: np.ndarray,
    *,
    size: Sequence[int],
    algorithm: str = "tvl1",
    work_size: Sequence[int] = WORK_SIZE,
) -> np.ndarray:
    """``T x H x W x 3`` uint8 flow clip of ``frames`` (the onset first, then the T sampled frames):
    each frame's flow from the onset, one scale for the clip (see the module docstring)."""
    fields = flow_fields(frames[0], frames[1:], algorithm=algorithm, work_size=work_size)
    fields[..., :2] -= np.median(fields[..., :2], axis=(1, 2), keepdims=True)  # the head's drift, not the face's
    fields = _resize_channels(fields, size)
    flow_scale = max(float(np.abs(fields[..., :2]).max()), 1e-6)
    strain_scale = max(float(fields[..., 2].max()), 1e-6)
    out = np.empty(fields.shape, np.float32)
    out[..., :2] = 127.5 + 127.5 * fields[..., :2] / flow_scale
    out[..., 2] = 255.0 * fields[..., 2] / strain_scale
    return np.round(out).clip(0, 255).astype(np.uint8)


class _CachedFeatures(Dataset):
    """Per-sample uint8 features in a disk cache keyed by the clips and every setting that shapes them."""

    kind = ""

    def __init__(
        self,
        samples: Sequence[Sample],
        *,
        length: int,
        size: Sequence[int],
        cache_dir: str | Path,
        face: FaceStage | None,
        **settings: object,
    ):
        self.samples = list(samples)
        self.size = (int(size[0]), int(size[1]))
        self.face = face or FaceStage()
        key = cache_key(self.samples, kind=self.kind, size=self.size, face=self.face.settings(), **settings)
        directory = Path(cache_dir).expanduser() / self.kind
        self._cache = DiskClipCache(directory, key, (len(self.samples), length, *self.size, 3))

    def __len__(self) -> int:
        return len(self.samples)

    def compute(self, index: int) -> np.ndarray:
        raise NotImplementedError

    def read(self, index: int, numbers: Sequence[int]) -> np.ndarray:
        """Frames ``numbers`` of sample ``index``, through the face stage."""
        s = self.samples[index]
        frames = open_frames(s.path).read(numbers)
        return self.face.apply(s, frames)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        cached = self._cache.get(index)
        if cached is None:
            cached = self.compute(index)
            self._cache.put(index, cached)
        return torch.from_numpy(cached), self.samples[index].label


class FlowDataset(_CachedFeatures):
    """Each sample's onset-apex flow image as a one-frame clip, ``1 x H x W x 3`` uint8.

    A missing apex falls back to the middle frame, with a warning.
    """

    kind = "onset_apex_flow"

    def __init__(
        self,
        samples: Sequence[Sample],
        *,
        size: Sequence[int],
        cache_dir: str | Path,
        algorithm: str = "tvl1",
        face: FaceStage | None = None,
    ):
        self.algorithm = algorithm
        super().__init__(
            samples, length=1, size=size, cache_dir=cache_dir, face=face, algorithm=algorithm, recipe="plain_bilinear"
        )

    def compute(self, index: int) -> np.ndarray:
        onset, apex = self.read(index, input_frames(self.samples[index], "flow"))
        return flow_image(onset, apex, size=self.size, algorithm=self.algorithm)[None]


class FlowClipDataset(_CachedFeatures):
    """Each sample's flow clip, ``T x H x W x 3`` uint8: the flow from the onset to each key frame the
    sampling strategy picks (see :func:`flow_clip`); the ``motion`` strategy reads its curves from
    ``curves_dir``."""

    kind = "flow_clip"

    def __init__(
        self,
        samples: Sequence[Sample],
        *,
        strategy: str,
        num_frames: int,
        size: Sequence[int],
        cache_dir: str | Path,
        stride: int = 1,
        curves_dir: str | Path | None = None,
        algorithm: str = "tvl1",
        face: FaceStage | None = None,
    ):
        self.strategy, self.num_frames, self.stride, self.algorithm = strategy, num_frames, stride, algorithm
        self.curves_dir = curves_dir
        # the curves shape only motion-sampled clips: other caches keep their keys
        curves = {"curves": str(curves_dir)} if strategy == "motion" else {}
        super().__init__(
            samples,
            length=num_frames,
            size=size,
            cache_dir=cache_dir,
            face=face,
            strategy=strategy,
            num_frames=num_frames,
            stride=stride,
            algorithm=algorithm,
            **curves,
        )

    def compute(self, index: int) -> np.ndarray:
        numbers = input_frames(
            self.samples[index],
            "flow_clip",
            strategy=self.strategy,
            num_frames=self.num_frames,
            stride=self.stride,
            curves_dir=self.curves_dir,
        )
        return flow_clip(self.read(index, numbers), size=self.size, algorithm=self.algorithm)
