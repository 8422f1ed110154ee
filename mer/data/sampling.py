"""Key-frame sequence sampling: which frame numbers of a clip a model sees.

Every strategy returns frame numbers in the clip's own numbering, between onset and offset
inclusive. Clips shorter than the number of frames asked for repeat frames.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mer.data.annotations import Sample
from mer.data.curves import curve_path, load_curve

STRATEGIES = ("onset_apex_offset", "uniform", "onset_apex", "apex_centred", "motion")
#: The inputs made from a clip's frames (``dataset.kind``), each decoding the frames :func:`input_frames` names.
FRAME_KINDS = ("clips", "flow_clip", "flow")


def _evenly(start: int, stop: int, count: int) -> list[int]:
    """``count`` numbers evenly from ``start`` to ``stop`` inclusive, rounded half up."""
    if count == 1:
        return [math.floor((start + stop) / 2 + 0.5)]
    step = (stop - start) / (count - 1)
    return [math.floor(start + i * step + 0.5) for i in range(count)]


def resolve_apex(onset: int, apex: int | None, offset: int, *, clip: str = "") -> int:
    """The annotated apex, or the middle frame (with a warning) when the dataset has none."""
    if apex is not None:
        return apex
    middle = (onset + offset) // 2
    warnings.warn(f"{clip or 'clip'}: no apex annotated, using the middle frame {middle}", stacklevel=2)
    return middle


def sample_frames(
    strategy: str,
    *,
    onset: int,
    apex: int | None,
    offset: int,
    num_frames: int,
    stride: int = 1,
    clip: str = "",
    curve: tuple[Sequence[int], Sequence[float]] | None = None,
) -> list[int]:
    """Frame numbers for one clip.

    Args:
        strategy: ``onset_apex_offset`` (the three key frames; ``num_frames`` is ignored),
            ``uniform`` (evenly from onset to offset), ``onset_apex`` (evenly from onset to apex) or
            ``apex_centred`` (consecutive frames ``stride`` apart centred on the apex, shifted to stay
            within onset..offset where the clip is long enough, else clamped, repeating frames) or
            ``motion`` (at equal steps of cumulative facial motion, from ``curve``).
        num_frames: T, the frames returned (except for ``onset_apex_offset``).
        stride: step between frames for ``apex_centred``.
        clip: name used in warnings and errors.
        curve: ``(frame numbers, motion)`` from onset to offset, for ``motion`` (cached by
            ``data_tools/extract_apex.py --curves``).
    """
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    if strategy == "uniform":
        return _evenly(onset, offset, num_frames)
    if strategy == "motion":
        if curve is None:
            raise ValueError(f"{clip}: the motion strategy needs a motion curve (data_tools/extract_apex.py --curves)")
        return motion_frames(*curve, num_frames=num_frames, clip=clip, onset=onset, offset=offset)
    key = resolve_apex(onset, apex, offset, clip=clip)
    if strategy == "onset_apex_offset":
        return [onset, key, offset]
    if strategy == "onset_apex":
        return _evenly(onset, key, num_frames)
    if strategy == "apex_centred":
        span = (num_frames - 1) * stride
        start = key - (num_frames // 2) * stride
        start = max(onset, min(start, offset - span))
        return [min(max(start + i * stride, onset), offset) for i in range(num_frames)]
    raise ValueError(f"unknown sampling strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")


def motion_frames(
    numbers: Sequence[int], motion: Sequence[float], *, num_frames: int, clip: str = "", onset: int, offset: int
) -> list[int]:
    """``num_frames`` frames at equal steps of cumulative motion: dense where the face moves.

    The motion between neighbouring frames is the change of the curve (facial motion relative to
    the onset); each frame taken is the first whose cumulative motion reaches its step. A curve
    without motion falls back to uniform sampling.
    """
    numbers = list(numbers)
    if numbers[0] != onset or numbers[-1] != offset:
        raise ValueError(f"{clip}: motion curve covers {numbers[0]}..{numbers[-1]}, annotation {onset}..{offset}")
    cumulative = np.concatenate([[0.0], np.cumsum(np.abs(np.diff(np.asarray(motion, dtype=float))))])
    if cumulative[-1] <= 0:
        return _evenly(onset, offset, num_frames)
    levels = np.linspace(0, cumulative[-1], num_frames)
    index = np.searchsorted(cumulative, levels - 1e-9 * cumulative[-1])
    return [numbers[min(i, len(numbers) - 1)] for i in index]


def key_frames(
    sample: Sample, strategy: str, *, num_frames: int, stride: int = 1, curves_dir: str | Path | None = None
) -> list[int]:
    """:func:`sample_frames` of one sample; the ``motion`` strategy reads its curve from ``curves_dir``."""
    curve = load_curve(curve_path(curves_dir, sample.id)) if strategy == "motion" else None
    return sample_frames(
        strategy,
        onset=sample.onset,
        apex=sample.apex,
        offset=sample.offset,
        num_frames=num_frames,
        stride=stride,
        clip=str(sample.path),
        curve=curve,
    )


def input_frames(
    sample: Sample,
    kind: str,
    *,
    strategy: str = "uniform",
    num_frames: int = 1,
    stride: int = 1,
    curves_dir: str | Path | None = None,
) -> list[int]:
    """The frame numbers of ``sample`` an input of ``kind`` is made from: ``clips`` its key frames,
    ``flow_clip`` the onset then its key frames, ``flow`` the onset and the apex (the sampling unused).

    The one place this is decided, so that the frame check before training decodes what training does.
    """
    if kind == "flow":
        return [sample.onset, resolve_apex(sample.onset, sample.apex, sample.offset, clip=str(sample.path))]
    if kind not in FRAME_KINDS:
        raise ValueError(f"{kind!r} is not made from frames; those are {', '.join(FRAME_KINDS)}")
    numbers = key_frames(sample, strategy, num_frames=num_frames, stride=stride, curves_dir=curves_dir)
    return [sample.onset, *numbers] if kind == "flow_clip" else numbers
