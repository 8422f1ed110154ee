"""Clip datasets: samples to fixed-size uint8 clips, decoded once and then cached."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from mer.data.annotations import Sample
from mer.data.cache import DiskClipCache, cache_key
from mer.data.face_stage import FaceStage
from mer.data.frames import open_frames
from mer.data.sampling import input_frames


class ClipDataset(Dataset):
    """Key-frame clips of ``samples`` as ``T x H x W x 3`` uint8 tensors with their labels.

    Clips stay uint8 until they reach the device (a quarter of the bytes of float32 to copy);
    :func:`mer.data.transforms.to_model_input` normalises them there. Sampling is deterministic,
    so each clip is decoded and resized once and cached: ``cache="memory"`` keeps it in this
    process (best without DataLoader workers), ``"disk"`` in a memory-mapped file under
    ``cache_dir`` shared by workers and later runs (see :mod:`mer.data.cache`), ``"none"`` decodes
    every time. ``face`` crops or aligns the face first (:mod:`mer.data.face_stage`).
    """

    def __init__(
        self,
        samples: Sequence[Sample],
        *,
        strategy: str,
        num_frames: int,
        size: Sequence[int],
        stride: int = 1,
        cache: str = "memory",
        cache_dir: str | Path | None = None,
        curves_dir: str | Path | None = None,
        backend: str = "auto",
        face: FaceStage | None = None,
    ):
        self.samples = list(samples)
        self.face = face or FaceStage()
        self.strategy, self.num_frames, self.stride = strategy, num_frames, stride
        self.size = (int(size[0]), int(size[1]))
        self.backend = backend
        if strategy == "motion" and curves_dir is None:
            raise ValueError("the motion strategy needs dataset.sampling.curves_dir (see data_tools/extract_apex.py)")
        self.curves_dir = curves_dir
        self._memory: dict[int, torch.Tensor] | None = {} if cache == "memory" else None
        self._disk: DiskClipCache | None = None
        if cache == "disk":
            if cache_dir is None:
                raise ValueError("cache='disk' needs a cache_dir")
            length = 3 if strategy == "onset_apex_offset" else num_frames
            key = cache_key(
                self.samples,
                strategy=strategy,
                num_frames=num_frames,
                stride=stride,
                size=self.size,
                curves=str(curves_dir),
                face=self.face.settings(),
            )
            self._disk = DiskClipCache(cache_dir, key, (len(self.samples), length, *self.size, 3))
        elif cache not in ("memory", "none"):
            raise ValueError(f"cache must be 'memory', 'disk' or 'none', got {cache!r}")

    def __len__(self) -> int:
        return len(self.samples)

    def frame_numbers(self, index: int) -> list[int]:
        return input_frames(
            self.samples[index],
            "clips",
            strategy=self.strategy,
            num_frames=self.num_frames,
            stride=self.stride,
            curves_dir=self.curves_dir,
        )

    def clip(self, index: int) -> torch.Tensor:
        """The sampled, resized frames of one sample, ``T x H x W x 3`` uint8."""
        if self._memory is not None and index in self._memory:
            return self._memory[index]
        cached = self._disk.get(index) if self._disk is not None else None
        if cached is not None:
            return torch.from_numpy(cached)
        frames = open_frames(self.samples[index].path, self.backend).read(self.frame_numbers(index))
        frames = self.face.apply(self.samples[index], frames)
        clip = resize_frames(torch.from_numpy(frames), self.size)
        if self._memory is not None:
            self._memory[index] = clip
        if self._disk is not None:
            self._disk.put(index, clip.numpy())
        return clip

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.clip(index), self.samples[index].label


def resize_frames(frames: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize ``T x H x W x C`` uint8 frames to ``size`` (antialiased bilinear), keeping uint8."""
    if tuple(frames.shape[1:3]) == size:
        return frames.contiguous()
    x = frames.permute(0, 3, 1, 2).float()
    x = F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)
    return x.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()


class ImageDataset(Dataset):
    """One image a sample (e.g. an onset-apex flow image) as a one-frame clip, ``1 x H x W x 3`` uint8.

    Channels in the file's RGB order. The MEGC composite's images hold horizontal flow, vertical flow
    and optical strain in that order (measured against mer's own flow of 65 of its CASME II clips:
    correlations 0.84, 0.90 and 0.69 channel by channel, ~0 across channels; ``benchmarks/flow_images.py``),
    so array channel 0 is the horizontal flow, as in mer's computed flow features. OpenCV reads them
    reversed. (Read with Pillow: OpenCV's PNG decoder can clash with the zlib that video decoders load
    into the same process.) All images are read once and kept.
    """

    def __init__(self, samples: Sequence[Sample], *, size: Sequence[int]):
        from PIL import Image

        self.samples = list(samples)
        self.size = (int(size[0]), int(size[1]))
        images = []
        for s in self.samples:
            try:
                with Image.open(s.path) as image:
                    rgb = np.array(image.convert("RGB"))
            except OSError as error:
                raise FileNotFoundError(f"{s.path}: unreadable image ({error})") from error
            images.append(resize_frames(torch.from_numpy(rgb)[None], self.size))
        self.images = torch.stack(images)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.images[index], self.samples[index].label
