"""``python -m mer.predict CHECKPOINT CLIP [--onset N --offset N]``: classify new footage.

CHECKPOINT is a ``final_model.pt`` from a run with ``trainer.final_fit=true``; CLIP a video file
or a folder of numbered frames. Frames are numbered as in training (0-based for videos, file
numbers for folders); without ``--onset``/``--offset`` the whole clip is the expression. The apex,
when the sampling (or a flow model's onset-apex flow) needs one, is spotted by optical flow.
Prints each class's probability and the predicted class.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from mer.checkpoint import load_checkpoint
from mer.data.annotations import Sample
from mer.data.build import build_dataset
from mer.data.frames import FrameReadError, open_frames
from mer.data.transforms import Normalization
from mer.training.device import resolve_runtime
from mer.training.trainer import predict


def spot(clip: Path, onset: int, offset: int) -> int:
    """The apex frame of ``clip`` between ``onset`` and ``offset``, by the flow method."""
    from mer.preprocessing.motion import clip_motion, spot_apex, to_grey

    grey = to_grey(open_frames(clip).read(list(range(onset, offset + 1))))
    return spot_apex(clip_motion(grey), onset)


def classify(checkpoint: Path, clip: Path, onset: int | None = None, offset: int | None = None) -> dict[str, float]:
    """Class probabilities of one clip."""
    model, config, classes = load_checkpoint(checkpoint)
    dataset = config["dataset"]
    kind = dataset.get("kind", "clips")
    if kind == "images":
        raise ValueError(f"{checkpoint}: a model of precomputed images (e.g. flow images) cannot read a clip")
    source = open_frames(clip)
    onset = source.first if onset is None else onset
    offset = source.last if offset is None else offset
    needs_apex = kind == "flow" or dataset["sampling"]["strategy"] != "uniform"
    apex = spot(clip, onset, offset) if needs_apex else None
    sample = Sample(
        subject="-", clip=str(clip), path=clip, onset=onset, apex=apex, offset=offset, emotion="", label=0, dataset="-"
    )
    runtime = resolve_runtime(config["trainer"]["device"], amp=config["trainer"]["amp"])
    with tempfile.TemporaryDirectory() as scratch:  # a flow image is computed once and not kept
        data = build_dataset([sample], dataset, cache="none", cache_dir=scratch)
        probs = predict(model, data, batch_size=1, runtime=runtime, norm=Normalization(**dataset["normalization"]))
    return dict(zip(classes, probs[0].astype(float).tolist(), strict=True))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("clip", type=Path)
    parser.add_argument("--onset", type=int)
    parser.add_argument("--offset", type=int)
    args = parser.parse_args(argv)
    try:
        probabilities = classify(args.checkpoint, args.clip, args.onset, args.offset)
    except (FileNotFoundError, FrameReadError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for name, p in sorted(probabilities.items(), key=lambda item: -item[1]):
        print(f"{name:>12s}  {p:.4f}")
    best = max(probabilities, key=probabilities.get)
    print(f"predicted: {best} (p = {probabilities[best]:.4f}, sum = {np.sum(list(probabilities.values())):.4f})")
    return 0


if __name__ == "__main__":
    torch.set_num_threads(1)
    sys.exit(main())
