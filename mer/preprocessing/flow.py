"""Onset-to-apex optical-flow features (horizontal flow, vertical flow, optical strain), as
STSTNet and most flow-based MER baselines use them, computed once per clip and cached.

TV-L1 (OpenCV contrib) is the published choice; Farneback is the fallback where contrib is
missing. Each channel is min-max normalised to 0-255 per sample, and the channels are stored in
the order flow-image sets are read (array channel 0 = horizontal flow), so computed features and a
published flow-image set such as the MEGC composite look alike to a model.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from mer.data.annotations import Sample
from mer.data.cache import DiskClipCache, cache_key
from mer.data.frames import open_frames
from mer.data.sampling import resolve_apex
from mer.preprocessing.motion import optical_flow, to_grey


def optical_strain(flow: np.ndarray) -> np.ndarray:
    """Magnitude of the strain tensor of a flow field: ``sqrt(u_x^2 + v_y^2 + (u_y + v_x)^2 / 2)``."""
    u_y, u_x = np.gradient(flow[..., 0])
    v_y, v_x = np.gradient(flow[..., 1])
    return np.sqrt(u_x**2 + v_y**2 + 0.5 * (u_y + v_x) ** 2)


def _to_byte(channel: np.ndarray) -> np.ndarray:
    low, high = float(channel.min()), float(channel.max())
    scaled = (channel - low) / (high - low) if high > low else np.zeros_like(channel)
    return np.round(scaled * 255).astype(np.uint8)


def flow_image(
    onset: np.ndarray,
    apex: np.ndarray,
    *,
    size: Sequence[int] = (28, 28),
    algorithm: str = "tvl1",
    work_width: int = 128,
) -> np.ndarray:
    """``H x W x 3`` uint8: horizontal flow, vertical flow and optical strain from onset to apex."""
    if algorithm == "tvl1" and not hasattr(cv2, "optflow"):
        algorithm = "farneback"
    grey = to_grey(np.stack([onset, apex]), work_width)
    flow = optical_flow(grey[0], grey[1], algorithm)
    channels = [flow[..., 0], flow[..., 1], optical_strain(flow)]
    image = np.stack([_to_byte(c) for c in channels], axis=2)
    return cv2.resize(image, (int(size[1]), int(size[0])), interpolation=cv2.INTER_AREA)


class FlowDataset(Dataset):
    """Each sample's onset-apex flow image as a one-frame clip, ``1 x H x W x 3`` uint8.

    Computed on first use (a missing apex falls back to the middle frame, with a warning) and kept
    in a disk cache keyed by the clips and the settings, so later runs compute no flow.
    """

    def __init__(
        self, samples: Sequence[Sample], *, size: Sequence[int], cache_dir: str | Path, algorithm: str = "tvl1"
    ):
        self.samples = list(samples)
        self.size = (int(size[0]), int(size[1]))
        self.algorithm = algorithm
        key = cache_key(self.samples, kind="onset_apex_flow", algorithm=algorithm, size=self.size)
        self._cache = DiskClipCache(Path(cache_dir).expanduser() / "flow", key, (len(self.samples), 1, *self.size, 3))

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        s = self.samples[index]
        cached = self._cache.get(index)
        if cached is None:
            apex = resolve_apex(s.onset, s.apex, s.offset, clip=str(s.path))
            onset_frame, apex_frame = open_frames(s.path).read([s.onset, apex])
            cached = flow_image(onset_frame, apex_frame, size=self.size, algorithm=self.algorithm)[None]
            self._cache.put(index, cached)
        return torch.from_numpy(cached), s.label
