"""The disk clip cache: rows written once and read back, and safe to open from two threads at once
(folds training side by side in threads share one flow-image cache)."""

import threading

import numpy as np

from mer.data import cache as cache_module
from mer.data.cache import DiskClipCache


def test_a_row_reads_back_once_written_and_not_before(tmp_path):
    cache = DiskClipCache(tmp_path, "k", (3, 2, 4, 4, 3))
    clip = np.arange(2 * 4 * 4 * 3, dtype=np.uint8).reshape(2, 4, 4, 3)
    assert cache.get(1) is None
    cache.put(1, clip)
    assert np.array_equal(DiskClipCache(tmp_path, "k", (3, 2, 4, 4, 3)).get(1), clip)


def test_a_thread_reading_while_another_opens_the_maps_never_finds_one_map_open(tmp_path, monkeypatch):
    cache = DiskClipCache(tmp_path, "k", (2, 1, 2, 2, 3))
    opening_flags, release = threading.Event(), threading.Event()
    load = np.load

    def slow_load(path, *args, **kwargs):
        if str(path).endswith(".done.npy") and threading.current_thread().name == "first":
            opening_flags.set()  # the clips' map is open, the flags' not yet
            release.wait(5)
        return load(path, *args, **kwargs)

    monkeypatch.setattr(cache_module.np, "load", slow_load)
    results = {}
    first = threading.Thread(target=lambda: results.setdefault("first", cache.get(0)), name="first")
    first.start()
    assert opening_flags.wait(5)
    results["second"] = cache.get(0)  # the old code read the flags' map while it was still None here
    release.set()
    first.join(5)
    assert results == {"first": None, "second": None}
