"""``python -m mer.predict CHECKPOINT CLIP [--onset N --offset N]``: classify new footage.

CHECKPOINT is a ``final_model.pt`` from a run with ``trainer.final_fit=true``; CLIP a video file
or a folder of numbered frames. Frames are numbered as in training (0-based for videos, file
numbers for folders); without ``--onset``/``--offset`` the whole clip is the expression. The apex,
when the sampling (or a flow model's onset-apex flow) needs one, is spotted by optical flow.
Prints each class's probability and the predicted class.

``python -m mer.predict CHECKPOINT dataset=NAME dataset.root=... [--out predictions.csv]``
classifies every sample of a configured dataset (the Hydra overrides of ``python -m mer.train``;
the samples training would read, their annotated intervals and apexes) and writes one row a sample:
``id,clip,subject,emotion,prediction`` and each class's probability.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from hydra.errors import HydraException
from tqdm import tqdm

from mer.atomic import write_or_print_csv
from mer.checkpoint import load_checkpoint
from mer.config_check import path_or_overrides
from mer.data.annotations import AnnotationError, Sample
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


class Classifier:
    """A final model loaded once, to classify any number of clips or intervals of a video."""

    def __init__(self, checkpoint: Path):
        self.model, self.config, self.classes = load_checkpoint(checkpoint)
        self.dataset = self.config["dataset"]
        if self.dataset.get("kind", "clips") == "images":
            raise ValueError(f"{checkpoint}: a model of precomputed images (e.g. flow images) cannot read a clip")
        self.runtime = resolve_runtime(self.config["trainer"]["device"], amp=self.config["trainer"]["amp"])

    @property
    def needs_apex(self) -> bool:
        """Whether the sampling (or a flow model's onset-apex flow) reads an apex."""
        return self.dataset.get("kind", "clips") == "flow" or self.dataset["sampling"]["strategy"] != "uniform"

    def __call__(self, clip: Path, onset: int, offset: int, apex: int | None = None) -> dict[str, float]:
        """Class probabilities of ``clip``'s frames ``onset..offset`` (``apex`` spotted when needed and not given)."""
        if apex is None and self.needs_apex:
            apex = spot(clip, onset, offset)
        sample = Sample(
            subject="-",
            clip=str(clip),
            path=clip,
            onset=onset,
            apex=apex,
            offset=offset,
            emotion="",
            label=0,
            dataset="-",
        )
        with tempfile.TemporaryDirectory() as scratch:  # a flow image is computed once and not kept
            data = build_dataset([sample], self.dataset, cache="none", cache_dir=scratch)
            norm = Normalization(**self.dataset["normalization"])
            probs = predict(self.model, data, batch_size=1, runtime=self.runtime, norm=norm)
        return dict(zip(self.classes, probs[0].astype(float).tolist(), strict=True))


def classify(checkpoint: Path, clip: Path, onset: int | None = None, offset: int | None = None) -> dict[str, float]:
    """Class probabilities of one clip (the whole of it without ``onset``/``offset``)."""
    classifier = Classifier(checkpoint)
    source = open_frames(clip)
    return classifier(clip, source.first if onset is None else onset, source.last if offset is None else offset)


def classify_dataset(checkpoint: Path, overrides: list[str]) -> tuple[list[str], list[dict[str, object]]]:
    """Columns and one row a sample of the dataset the ``overrides`` configure."""
    from hydra.utils import instantiate

    from mer.preprocessing.extract_apex import compose_dataset

    classifier = Classifier(checkpoint)
    samples = instantiate(compose_dataset(overrides).dataset.samples, _convert_="all")
    rows = []
    for s in tqdm(samples, desc="classifying", unit="clip"):
        probabilities = classifier(s.path, s.onset, s.offset, s.apex)
        best = max(probabilities, key=probabilities.get)
        row = {"id": s.id, "clip": s.clip, "subject": s.subject, "emotion": s.emotion, "prediction": best}
        rows.append(row | {f"p_{c}": f"{p:.4f}" for c, p in probabilities.items()})
    return ["id", "clip", "subject", "emotion", "prediction", *(f"p_{c}" for c in classifier.classes)], rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("inputs", nargs="+", metavar="CLIP | KEY=VALUE", help="a clip, or dataset= overrides")
    parser.add_argument("--onset", type=int)
    parser.add_argument("--offset", type=int)
    parser.add_argument("--out", type=Path, help="with dataset= overrides: the predictions CSV (default: print)")
    args = parser.parse_args(argv)
    clip, overrides = path_or_overrides(args.inputs, parser, "CLIP")
    try:
        if overrides:
            columns, rows = classify_dataset(args.checkpoint, overrides)
        else:
            probabilities = classify(args.checkpoint, clip, args.onset, args.offset)
    except (AnnotationError, FileNotFoundError, FrameReadError, ValueError, HydraException) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if overrides:
        write_or_print_csv(args.out, columns, ([row[c] for c in columns] for row in rows))
        if args.out:
            print(f"{len(rows)} samples classified -> {args.out}")
        return 0
    for name, p in sorted(probabilities.items(), key=lambda item: -item[1]):
        print(f"{name:>12s}  {p:.4f}")
    best = max(probabilities, key=probabilities.get)
    print(f"predicted: {best} (p = {probabilities[best]:.4f}, sum = {np.sum(list(probabilities.values())):.4f})")
    return 0


if __name__ == "__main__":
    torch.set_num_threads(1)
    sys.exit(main())
