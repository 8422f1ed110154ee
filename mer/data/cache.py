"""A clip cache on disk: sampled, resized clips decoded once, shared by every process and run.

One uint8 ``.npy`` memory map of ``N x T x H x W x 3`` per key, with a ``.done.npy`` flag per
clip. The key hashes everything that determines the pixels (each clip's path, size and mtime, its
key frames, the sampling and the frame size), so a changed setting or a re-exported video gets a
new cache instead of stale frames. DataLoader workers open the maps themselves and fill disjoint
rows; the OS page cache then serves every later epoch without decoding any video.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mer.data.annotations import Sample


def cache_key(samples: Sequence[Sample], **settings: object) -> str:
    """A digest of the samples' clips and key frames and of the sampling ``settings``."""
    digest = hashlib.sha1(json.dumps(settings, sort_keys=True, default=str).encode())
    for s in samples:
        stat = os.stat(s.path)
        digest.update(f"{s.path}|{stat.st_size}|{stat.st_mtime_ns}|{s.onset}|{s.apex}|{s.offset}\n".encode())
    return digest.hexdigest()[:16]


class DiskClipCache:
    """Rows of a uint8 memory map, each written once and flagged as done after it is written."""

    def __init__(self, directory: str | Path, key: str, shape: tuple[int, ...]):
        directory = Path(directory).expanduser()
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{key}.npy"
        self.done_path = directory / f"{key}.done.npy"
        self.shape = shape
        if not self.path.exists():
            self._create()
        self._clips: np.memmap | None = None
        self._done: np.memmap | None = None

    def _create(self) -> None:
        tmp = self.path.with_suffix(f".tmp{os.getpid()}.npy")
        done_tmp = self.done_path.with_suffix(f".tmp{os.getpid()}.npy")
        np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=self.shape).flush()
        np.lib.format.open_memmap(done_tmp, mode="w+", dtype=np.bool_, shape=(self.shape[0],)).flush()
        os.replace(done_tmp, self.done_path)
        os.replace(tmp, self.path)

    def _open(self) -> None:
        """Map both files; ``_done`` is set last, so a thread that finds it set finds both (folds
        training in threads share one cache, and the first get of two may run at once)."""
        if self._done is None:
            self._clips = np.load(self.path, mmap_mode="r+")
            self._done = np.load(self.done_path, mmap_mode="r+")

    def get(self, index: int) -> np.ndarray | None:
        self._open()
        return np.array(self._clips[index]) if self._done[index] else None

    def put(self, index: int, clip: np.ndarray) -> None:
        self._open()
        self._clips[index] = clip
        self._done[index] = True

    def __getstate__(self) -> dict:
        """Workers reopen the maps: pickling a memmap would copy the whole cache into each one."""
        return {**self.__dict__, "_clips": None, "_done": None}
