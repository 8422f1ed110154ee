"""``python -m mer.predict CHECKPOINT CLIP [--onset N --offset N]``: classify new footage.

CHECKPOINT is a ``final_model.pt`` from a run with ``trainer.final_fit=true``; CLIP a video file
or a folder of numbered frames. Frames are numbered as in training (0-based for videos, file
numbers for folders); without ``--onset``/``--offset`` the whole clip is the expression. The apex,
when the sampling (or a flow model's onset-apex flow) needs one, is spotted by optical flow.
Prints each class's probability and the predicted class.

The clip goes through the face stage and input the checkpoint recorded from training
(``--face auto``): ``crop`` or ``align`` as trained; a model trained on frames as released
(``dataset.face.mode=none``: registered face crops such as CASME II's) has the footage aligned to
its face, as the release's crops were. ``--face none`` gives footage already cut as the training
frames were (the release's own clips). A clip with no face is an error naming it (exit 2), never a
class.

``python -m mer.predict CHECKPOINT dataset=NAME dataset.root=... [--out predictions.csv]``
classifies every sample of a configured dataset (the Hydra overrides of ``python -m mer.train``;
the samples training would read, their annotated intervals and apexes, through that dataset's own
face stage) and writes one row a sample: ``id,clip,subject,emotion,prediction`` and each class's
probability; a sample with no face has ``prediction`` ``no face`` and no probabilities.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from hydra.errors import HydraException
from tqdm import tqdm

from mer.atomic import write_or_print_csv
from mer.checkpoint import load_checkpoint
from mer.config_check import ConfigError, path_or_overrides
from mer.data.annotations import AnnotationError, Sample
from mer.data.build import build_dataset
from mer.data.face_stage import FaceStage
from mer.data.faces import MODES, NoFaceError
from mer.data.frames import FrameReadError, open_frames
from mer.data.transforms import Normalization
from mer.training.device import resolve_runtime
from mer.training.trainer import predict


def spot(sample: Sample, face: FaceStage) -> int:
    """The apex frame of ``sample``'s clip between its onset and offset, by the flow method on its face."""
    from mer.preprocessing.motion import clip_motion, spot_apex, to_grey

    frames = open_frames(sample.path).read(list(range(sample.onset, sample.offset + 1)))
    return spot_apex(clip_motion(to_grey(face.apply(sample, frames))), sample.onset)


def footage_face(trained: Mapping, choice: str = "auto") -> dict[str, object]:
    """The face stage for footage, ``{mode, size}``: ``auto`` is training's, except that a model of
    frames as released (``none``: registered face crops) has footage aligned to its face as the
    release's crops were; ``none``, ``crop`` or ``align`` choose (``none``: footage cut as the
    training frames were)."""
    if choice not in ("auto", *MODES):
        raise ConfigError(f"face stage {choice!r}: give auto, {', '.join(MODES)}")
    mode = choice if choice != "auto" else trained["mode"] if trained["mode"] != "none" else "align"
    return {"mode": mode, "size": int(trained["size"])}


class Classifier:
    """A final model loaded once, to classify any number of clips or intervals of a video through
    the face stage and input its training recorded (:func:`footage_face` for ``face``)."""

    #: What a dataset's row says in place of a class where no face was found.
    NO_FACE = "no face"

    def __init__(self, checkpoint: Path, face: str = "auto"):
        loaded = load_checkpoint(checkpoint)
        if loaded.input is None:
            raise ConfigError(f"{checkpoint}: records neither its input nor a config.dataset to read it from")
        self.model, self.config, self.classes, self.input = loaded.model, loaded.config, loaded.classes, loaded.input
        if self.input.get("kind", "clips") in ("images", "features"):
            raise ConfigError(f"{checkpoint}: a model of precomputed {self.input['kind']} cannot read a clip")
        self.face = footage_face(loaded.face, face)
        self.runtime = resolve_runtime(self.config["trainer"]["device"], amp=self.config["trainer"]["amp"])

    @property
    def needs_apex(self) -> bool:
        """Whether the sampling (or a flow model's onset-apex flow) reads an apex."""
        return self.input.get("kind", "clips") == "flow" or self.input["sampling"]["strategy"] != "uniform"

    def __call__(self, clip: Path, onset: int, offset: int, apex: int | None = None) -> dict[str, float]:
        """Class probabilities of ``clip``'s frames ``onset..offset`` (``apex`` spotted when needed and
        not given); :class:`~mer.data.faces.NoFaceError` naming the clip where the face stage finds none."""
        sample = Sample(
            subject="-",
            clip=str(clip),
            path=Path(clip),
            onset=onset,
            apex=apex,
            offset=offset,
            emotion="",
            label=0,
            dataset="-",
        )
        with tempfile.TemporaryDirectory() as scratch:  # a face track and flow image are computed once, not kept
            face = FaceStage(**self.face, cache_dir=scratch)
            try:  # no face: the error, before anything is spotted or classified
                face.track(sample)
            except NoFaceError as error:
                raise NoFaceError(f"{error}: nothing to classify, the model reads faces") from None
            if apex is None and self.needs_apex:
                sample = replace(sample, apex=spot(sample, face))
            data = build_dataset([sample], {**self.input, "face": self.face}, cache="none", cache_dir=scratch)
            norm = Normalization(**self.input["normalization"])
            probs = predict(self.model, data, batch_size=1, runtime=self.runtime, norm=norm)
        return dict(zip(self.classes, probs[0].astype(float).tolist(), strict=True))


def classify(
    checkpoint: Path, clip: Path, onset: int | None = None, offset: int | None = None, face: str = "auto"
) -> dict[str, float]:
    """Class probabilities of one clip (the whole of it without ``onset``/``offset``)."""
    classifier = Classifier(checkpoint, face)
    source = open_frames(clip)
    return classifier(clip, source.first if onset is None else onset, source.last if offset is None else offset)


def classify_dataset(checkpoint: Path, overrides: list[str]) -> tuple[list[str], list[dict[str, object]]]:
    """Columns and one row a sample of the dataset the ``overrides`` configure."""
    from mer.compose import compose_config, load_samples

    cfg = compose_config(overrides)
    classifier = Classifier(checkpoint, face=cfg.dataset.get("face", {}).get("mode", "none"))  # its frames, as trained
    samples = load_samples(cfg, labelled=False)  # prediction needs no class
    rows = []
    for s in tqdm(samples, desc="classifying", unit="clip"):
        row = {"id": s.id, "clip": s.clip, "subject": s.subject, "emotion": s.emotion}
        try:
            probabilities = classifier(s.path, s.onset, s.offset, s.apex)
        except NoFaceError:
            rows.append(row | {"prediction": classifier.NO_FACE} | {f"p_{c}": "" for c in classifier.classes})
            continue
        best = max(probabilities, key=probabilities.get)
        rows.append(row | {"prediction": best} | {f"p_{c}": f"{p:.4f}" for c, p in probabilities.items()})
    return ["id", "clip", "subject", "emotion", "prediction", *(f"p_{c}" for c in classifier.classes)], rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("inputs", nargs="+", metavar="CLIP | KEY=VALUE", help="a clip, or dataset= overrides")
    parser.add_argument("--onset", type=int)
    parser.add_argument("--offset", type=int)
    parser.add_argument("--out", type=Path, help="with dataset= overrides: the predictions CSV (default: print)")
    parser.add_argument(
        "--face",
        choices=("auto", *MODES),
        default="auto",
        help="a clip's face stage: auto (as trained; a model of released face crops aligns), or choose",
    )
    args = parser.parse_args(argv)
    clip, overrides = path_or_overrides(args.inputs, parser, "CLIP")
    if overrides and args.face != "auto":
        parser.error("--face is for a clip; a dataset's samples go through its own dataset.face.mode")
    try:
        if overrides:
            columns, rows = classify_dataset(args.checkpoint, overrides)
        else:
            probabilities = classify(args.checkpoint, clip, args.onset, args.offset, args.face)
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
