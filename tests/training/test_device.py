import platform
import sys

import pytest
import torch

from mer.training.device import resolve_runtime, retain_freed_memory


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc", reason="tunes glibc's malloc only"
)
def test_glibc_keeps_freed_buffers_for_reuse():
    assert retain_freed_memory()


def test_a_cpu_runtime_uses_the_asked_threads():
    before = torch.get_num_threads()
    try:
        runtime = resolve_runtime("cpu", num_threads=1)
        assert runtime.device.type == "cpu" and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
