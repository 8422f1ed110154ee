"""Compute a dataset's model inputs once and write them as a folder that travels.

    python data_tools/export_features.py --out casme2_dev_flow dataset=casme2 dataset.root=DIR model=r3d

The ``KEY=VALUE`` arguments are Hydra overrides as for ``python -m mer.train``: the dataset and the
model (whose ``input`` says what it reads: flow clips, onset-apex flow images, clips; frames; size;
flow algorithm). Each sample's input is computed as a run computes it (faces, flow, sampling) and
written, with the samples and their provenance, to ``--out`` (layout: :mod:`mer.datasets.features`).
Train on it anywhere, no frames, OpenCV contrib or landmark models needed:

    python -m mer.train dataset=features dataset.root=casme2_dev_flow dataset/classes=<the same> model=r3d

Exit status 2 if the dataset cannot be read (the message names the sheet and line, or the key).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf
from tqdm import tqdm

from mer.compose import compose_config
from mer.config_check import ConfigError, reporting_user_errors
from mer.data.features import FEATURES, PROVENANCE, SAMPLES
from mer.datasets.features import sample_record
from mer.experiment import Experiment
from mer.provenance import data_fingerprint, git_commit


def export(experiment: Experiment, out: Path, *, progress: bool = True) -> dict:
    """Write ``experiment``'s inputs, samples and provenance to ``out`` (all or nothing: a sibling
    temporary folder is renamed into place once complete). Returns the provenance."""
    cfg = experiment.cfg
    first = experiment.data[0][0].numpy()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        array = np.lib.format.open_memmap(
            staging / FEATURES, mode="w+", dtype=np.uint8, shape=(len(experiment.samples), *first.shape)
        )
        for i in tqdm(range(len(experiment.samples)), desc="computing inputs", disable=not progress):
            array[i] = experiment.data[i][0].numpy()
        array.flush()
        del array
        with open(staging / SAMPLES, "w") as f:
            for sample in experiment.samples:
                f.write(json.dumps(sample_record(sample)) + "\n")
        record = {
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "git_commit": git_commit(),
            "dataset": OmegaConf.to_container(cfg.dataset, resolve=True),
            "input": {  # as the dataset computed it (a frame release takes these from the model's input)
                "kind": cfg.dataset.kind,
                "size": list(cfg.dataset.input_size),
                "frames": int(first.shape[0]),
                "flow_algorithm": cfg.dataset.get("flow_algorithm", "tvl1"),
            },
            "classes": list(experiment.classes),
            "shape": [len(experiment.samples), *first.shape],
            "data_fingerprint": data_fingerprint(experiment.samples),
            "sample_notes": experiment.sample_notes,
            "left_out_no_face": experiment.left_out_no_face,
        }
        (staging / PROVENANCE).write_text(json.dumps(record, indent=1))
        for path in staging.iterdir():
            with open(path, "rb") as f:
                os.fsync(f.fileno())
        staging.chmod(0o755)  # mkdtemp's folder is private
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="Hydra overrides: dataset=..., model=...")
    parser.add_argument("--out", type=Path, required=True, help="the folder to write (replaced if it exists)")
    args = parser.parse_intermixed_args(argv)

    def work() -> int:
        cfg = compose_config([*args.overrides, "trainer.device=cpu"])
        if cfg.dataset.kind == "features":
            raise ConfigError("dataset=features is already exported: give the dataset the features come from")
        record = export(Experiment.from_config(cfg), args.out)
        size = sum(p.stat().st_size for p in args.out.iterdir()) / 2**20
        shape, kind = record["shape"], record["input"]["kind"]
        print(f"{shape[0]} samples of {kind} {shape[1:]} -> {args.out} ({size:.1f} MB)")
        return 0

    return reporting_user_errors(work)


if __name__ == "__main__":
    sys.exit(main())
