"""Where and how a run computes: device, precision, memory layout, threads and data loading."""

from __future__ import annotations

import ctypes
import logging
import os
import sys
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler

from mer.data.transforms import Normalization, to_model_input

log = logging.getLogger(__name__)

#: glibc's ``mallopt`` parameters (malloc.h) and the sizes we set them to.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD = 32 << 20  # glibc's largest allowed value
_TRIM_THRESHOLD = 64 << 20  # a small model's step needs ~10 MB; a bound on what each arena keeps


def retain_freed_memory() -> bool:
    """Let glibc keep freed buffers of up to 32 MB for reuse instead of returning them to the OS.

    By default glibc serves buffers over a few MB with fresh ``mmap`` pages and unmaps them on free,
    so a small model on a CPU, whose every step allocates and frees activations of a few MB, spends
    up to a third of its time in page faults zeroing the same memory again (what jemalloc or
    tcmalloc, as PyTorch's CPU tuning guide suggests, also avoid). Returns whether it applied
    (glibc on Linux only).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        applied = libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD) == 1
        return libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD) == 1 and applied
    except (OSError, AttributeError):  # another C library (musl) or none
        return False


@dataclass(frozen=True)
class Runtime:
    """Settings every loop shares, so training and prediction treat data and models alike."""

    device: torch.device
    amp_dtype: torch.dtype | None = None
    channels_last: bool = False
    compile: bool = False
    num_workers: int = 0
    prefetch_factor: int | None = None

    @property
    def use_scaler(self) -> bool:
        return self.amp_dtype == torch.float16

    def autocast(self) -> AbstractContextManager:
        if self.amp_dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def loader(
        self,
        data: Dataset,
        *,
        batch_size: int,
        shuffle: bool,
        generator: torch.Generator | None = None,
        drop_last: bool = False,
        sampler: Sampler | None = None,
    ) -> DataLoader:
        """A loader with pinned memory on CUDA and the configured workers and prefetch.

        Without a ``generator`` it gets a fresh one: a DataLoader would otherwise draw its base seed
        from torch's global generator, which folds trained side by side need untouched while
        another fold initialises its weights from it.
        """
        workers = self.num_workers
        return DataLoader(
            data,
            batch_size=batch_size,
            shuffle=shuffle,
            sampler=sampler,
            drop_last=drop_last,
            generator=generator if generator is not None else torch.Generator(),
            num_workers=workers,
            pin_memory=self.device.type == "cuda",
            persistent_workers=workers > 0,
            prefetch_factor=self.prefetch_factor if workers > 0 else None,
        )

    def suited_to(self, model: nn.Module) -> Runtime:
        """This runtime for ``model``: channels-last-3d only where it has 3-D convolutions (5-D
        weights). A 2-D network fed one-frame clips or a transformer over frames gains nothing from
        it, and on an H200 a channels-last clip reached the transformer's attention with strides its
        fused backward kernel refused ("LSE is not correctly aligned")."""
        if self.channels_last and not any(p.dim() == 5 for p in model.parameters()):
            return replace(self, channels_last=False)
        return self

    def prepare(self, model: nn.Module) -> nn.Module:
        """Move ``model`` to the device, its 5-D weights (3-D convolutions) in channels-last-3d layout
        where asked, and compile it where asked.

        Only 5-D tensors have a channels-last-3d layout: ``Module.to(memory_format=...)`` would
        refuse every 2-D network (and a 3-D one with a 4-D weight anywhere), so the layout is set
        tensor by tensor.
        """
        model = model.to(self.device)
        if self.channels_last:
            with torch.no_grad():
                for tensor in (*model.parameters(), *model.buffers()):
                    if tensor.dim() == 5:
                        tensor.data = tensor.data.contiguous(memory_format=torch.channels_last_3d)
        return torch.compile(model) if self.compile else model

    def model_input(self, clips: torch.Tensor, norm: Normalization) -> torch.Tensor:
        """Copy uint8 clips to the device (asynchronously from pinned memory), then normalise there."""
        x = to_model_input(clips.to(self.device, non_blocking=True), norm)
        return x.contiguous(memory_format=torch.channels_last_3d) if self.channels_last and x.dim() == 5 else x

    def dropout_generator(self, fold_generator: torch.Generator, seed: int) -> torch.Generator:
        """Where a model draws its dropout masks: the fold's own generator on a CPU (masks and batch
        order from one seeded stream, as always), a generator on the device seeded alike elsewhere,
        since a CUDA kernel only takes a CUDA generator."""
        if self.device.type == "cpu":
            return fold_generator
        return torch.Generator(device=self.device).manual_seed(seed)


def resolve_runtime(
    device: str = "auto",
    *,
    amp: bool = True,
    num_threads: int | None = None,
    channels_last: bool | None = None,
    compile: bool = False,
    num_workers: int = 0,
    prefetch_factor: int | None = 2,
) -> Runtime:
    """``auto`` picks CUDA (bf16 autocast where supported, else fp16 with a scaler) or the CPU.

    ``num_threads`` caps torch's intra-op threads (default: all cores), set on purpose because
    oversubscribed threads halve small-model speed on few cores. ``channels_last=None`` means on
    CUDA only, where cuDNN's 3D kernels prefer it.
    """
    torch.set_num_threads(num_threads or os.cpu_count() or 1)
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cpu" and not retain_freed_memory():
        log.debug("could not tune glibc malloc; CPU training may page-fault more")
    amp_dtype = None
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.set_float32_matmul_precision("high")  # TF32 tensor cores for what runs in float32 (fused folds)
        if amp:
            amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return Runtime(
        device=dev,
        amp_dtype=amp_dtype,
        channels_last=dev.type == "cuda" if channels_last is None else channels_last,
        compile=compile,
        num_workers=num_workers,
        prefetch_factor=prefetch_factor,
    )
