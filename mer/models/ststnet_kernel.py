"""STSTNet's training stem as one compiled C kernel (``ststnet_stem.c``), for CPUs.

Why: a training step of this 1.7 k-parameter network is dominated not by arithmetic but by the
torch ops that each stream a batch's conv output (15 MB at batch 256) through memory: conv, ReLU,
the BatchNorm statistics, a layout copy for the fast max pool, and in the backward pass the ReLU
mask, the statistics' gradient, the pool's scatter and the weight gradient. The kernel keeps a
position's 16 channels in one vector register and does all of it in one pass over the input each
way, recomputing the conv in the backward pass rather than storing it. Results equal the layers'
up to float rounding (tests/models/test_ststnet_kernel.py).

It is compiled on first use with the system C compiler (``$CC``, else ``cc``, ``gcc`` or
``clang``; about a second) into ``$MER_CACHE/kernels`` (default ``~/.cache/mer/kernels``), keyed by
the source, compiler, flags and CPU, so later runs and other processes load it. Without a compiler,
:func:`load` returns None and STSTNet runs its torch ops instead (logged once).
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import platform
import shutil
import subprocess
import tempfile
import threading
from functools import cache
from pathlib import Path

import torch
import torch.nn.functional as F

log = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("ststnet_stem.c")
CHANNELS = 16  # C in the source: STSTNet's 3 + 5 + 8 streams
BLOCK = 6  # NB in the source: a row is computed in blocks of this many positions
MAX_TAPS = 64  # MAX_TAPS in the source: input channels x 9

_lock = threading.Lock()
_pointer, _int = ctypes.c_void_p, ctypes.c_int


def _compiler() -> str | None:
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return name
    return None


def _flags() -> list[list[str]]:
    """Flag sets to try in order: tuned for this CPU first, then portable."""
    portable = ["-O3", "-shared", "-fPIC", "-std=c11"]
    return [[*portable, "-march=native"], portable] if platform.machine() in ("x86_64", "AMD64") else [portable]


def _cpu() -> str:
    """What ``-march=native`` compiles for: a kernel cache shared by machines (a cluster's home
    directory) must not hand one CPU's instructions to another."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return f"{platform.machine()} {platform.processor()}"
    return "\n".join(sorted({line for line in lines if line.startswith(("model name", "flags"))}))


def _build(compiler: str, directory: Path) -> Path | None:
    source = SOURCE.read_bytes()
    for flags in _flags():
        parts = [source, compiler.encode(), " ".join(flags).encode(), _cpu().encode()]
        key = hashlib.sha256(b"\0".join(parts)).hexdigest()[:16]
        target = directory / f"ststnet_stem-{key}.so"
        if target.exists():
            return target
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=directory) as tmp:  # other processes may build beside us
            built = Path(tmp) / target.name
            command = [compiler, *flags, "-o", str(built), str(SOURCE)]
            try:
                result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
            except subprocess.TimeoutExpired:
                log.debug("%s timed out", " ".join(command))
                continue
            if result.returncode == 0:
                os.replace(built, target)
                return target
        log.debug("%s failed: %s", " ".join(command), result.stderr.strip())
    return None


@cache
def load() -> ctypes.CDLL | None:
    """The compiled kernel, built on first use; None where it cannot be built or loaded."""
    with _lock:
        compiler = _compiler()
        directory = Path(os.environ.get("MER_CACHE", "~/.cache/mer")).expanduser() / "kernels"
        try:
            path = _build(compiler, directory) if compiler else None
            library = ctypes.CDLL(str(path)) if path else None  # ctypes releases the GIL during calls
        except OSError as error:
            log.info("STSTNet's compiled stem is unavailable (%s); using torch ops", error)
            return None
        if library is None:
            log.info("no C compiler built STSTNet's stem (set $CC to one); using torch ops, which are slower")
            return None
        shape = [_int] * 5  # n, cin, hp, wp, wo
        library.stem_forward.argtypes = [_pointer, *shape, *[_pointer] * 4, _int, _int, _pointer]
        library.stem_backward.argtypes = [_pointer, *shape, *[_pointer] * 6, _int, _int, _pointer, _pointer]
        log.info("STSTNet's stem runs as the compiled kernel %s", path)
        return library


def applies(x: torch.Tensor, weight: torch.Tensor) -> bool:
    """Whether the kernel can run this stem: float32 on the CPU, 16 channels of 3x3 filters."""
    return (
        x.device.type == "cpu"
        and x.dtype == weight.dtype == torch.float32
        and weight.shape[0] == CHANNELS
        and weight.shape[2:] == (3, 3)
        and weight.shape[1] * 9 <= MAX_TAPS
        and load() is not None
    )


def _ptr(t: torch.Tensor) -> int:
    return t.data_ptr()


class CompiledStem(torch.autograd.Function):
    """The same contract as ``ststnet._FusedStem``: ``relu(conv2d(x, w, b, padding=2))`` reduced to
    its per-channel mean and mean square and its 3x3/3 max pool (padding 1); no input gradient."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor):
        library = load()
        n, cin, h, w = x.shape
        ho, wo = h + 2, w + 2  # conv 3x3 with padding 2
        po, qo = (ho - 1) // 3 + 1, (wo - 1) // 3 + 1  # max pool 3, stride 3, padding 1
        extra = -wo % BLOCK  # zero columns so the last block of a row stays inside it
        xpad = F.pad(x, (2, 2 + extra, 2, 2)).contiguous()
        taps = weight.detach().reshape(CHANNELS, -1).t().contiguous()
        bias = bias.detach().contiguous()
        pooled = torch.empty(n, po, qo, CHANNELS)
        index = torch.empty(n, po, qo, CHANNELS, dtype=torch.int32)
        stats = torch.zeros(2, CHANNELS, dtype=torch.float64)
        hp, wp = xpad.shape[2:]
        library.stem_forward(
            _ptr(xpad), n, cin, hp, wp, wo, _ptr(taps), _ptr(bias), _ptr(pooled), _ptr(index), po, qo, _ptr(stats)
        )
        ctx.save_for_backward(xpad, taps, bias, pooled, index)
        ctx.shape = (n, cin, hp, wp, wo, po, qo)
        ctx.weight_shape = weight.shape
        count = n * ho * wo
        mean, sq = (stats / count).float()
        return mean, sq, pooled.permute(0, 3, 1, 2)

    @staticmethod
    def backward(ctx, grad_mean: torch.Tensor, grad_sq: torch.Tensor, grad_pooled: torch.Tensor):
        xpad, taps, bias, pooled, index = ctx.saved_tensors
        n, cin, hp, wp, wo, po, qo = ctx.shape
        count = n * (hp - 2) * wo
        a = (grad_mean / count).float().contiguous()
        b = (2 * grad_sq / count).float().contiguous()
        grad_pooled = (grad_pooled.permute(0, 2, 3, 1) * (pooled > 0)).float().contiguous()
        grad_taps = torch.zeros(cin * 9, CHANNELS, dtype=torch.float64)
        grad_bias = torch.zeros(CHANNELS, dtype=torch.float64)
        load().stem_backward(
            _ptr(xpad),
            n,
            cin,
            hp,
            wp,
            wo,
            _ptr(taps),
            _ptr(bias),
            _ptr(a),
            _ptr(b),
            _ptr(grad_pooled),
            _ptr(index),
            po,
            qo,
            _ptr(grad_taps),
            _ptr(grad_bias),
        )
        return None, grad_taps.t().reshape(ctx.weight_shape).float(), grad_bias.float()
