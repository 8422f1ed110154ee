"""The leaderboard of flow models on the MEGC 2019 composite, as markdown, from run directories.

    python benchmarks/leaderboard.py RUNS_ROOT > docs/leaderboard.md

``RUNS_ROOT/<model>/s<seed>/results.json`` for every run, as ``benchmarks/seed_table.py`` reads them
(``python -m mer.train dataset=megc2019_flow model=<model> seed=<seed> hydra.run.dir=RUNS_ROOT/<model>/s<seed>``).
One row per ``<model>``: UF1 and UAR mean +- sample std over seeds, UF1 of each part (SMIC, CASME II,
SAMM), the epochs run, minutes a run; beside them the published composite UF1 and whether the
authors' public training code chose, for each held-out subject, the epoch that scored best on it.
Every figure of ours is read from the runs, never typed; the published ones are data below, each
with its source. Every model of :data:`PUBLISHED` gets a row, run or not, so a missing one shows.
Runs that are partial (``evaluation.max_folds``) or fewer than three seeds are marked, and so is the
page: such a table is an example, not the leaderboard.

The whole board is one Hydra multirun, for a GPU or many cores (on one core of a 2-core CPU a fold
at the recipes took: RCN 1.5 min, Dual-Inception 10 min, OFF-ApexNet over 8 min, FaceTopoNet about
15 min, HTNet about 10 h; on the CPU every model but HTNet trains one fold per core,
``trainer.fold_workers``); run again, it resumes each run's finished folds:

    python -m mer.train -m dataset=megc2019_flow dataset.root=DIR seed=0,1,2 \
        model=ststnet,offapexnet,dual_inception,rcn,htnet,facetoponet,ensemble_flow,sssnet \
        hydra.sweep.dir=RUNS_ROOT 'hydra.sweep.subdir=${hydra:runtime.choices.model}/s${seed}'
"""

from __future__ import annotations

import argparse
import json
import statistics
from dataclasses import dataclass
from pathlib import Path

from omegaconf import OmegaConf

PARTS = (("smic", "SMIC"), ("casme2", "CASME II"), ("samm", "SAMM"))
SEEDS = 3  # a leaderboard row averages at least this many seeds
HEADER = ["model", "seeds", "UF1", "UAR", *(f"{label} UF1" for _, label in PARTS), "epochs", "minutes a run"]
HEADER += ["published UF1", "public code selects on test subject?"]


@dataclass(frozen=True)
class Published:
    name: str
    uf1: float | None  # on the MEGC 2019 composite (442 samples, leave-one-subject-out); None: not known to us
    paper: str
    code: str | None  # the public training code we read
    selects_on_test: bool | None  # None: no public code read
    selection: str  # what that code scores each held-out subject with


PUBLISHED = {
    "ststnet": Published(
        "STSTNet",
        0.7353,
        "Liong et al., FG 2019 (arXiv:1902.03634), abstract",
        "christy1206/STSTNet main.py, main.m",
        False,
        "the weights after the last epoch",
    ),
    "offapexnet": Published(
        "OFF-ApexNet",
        None,
        "Gan et al., Signal Processing: Image Communication 2019",
        None,
        None,
        "",
    ),
    "dual_inception": Published(
        "Dual-Inception",
        0.7322,
        "Zhou et al., FG 2019 (MEGC 2019); figure as issue 16 quotes it, not checked against the paper",
        "xly135846/MEGC2019 dual_inception.py, image_process.py",
        False,
        "the epoch of best loss on the test subject's database's other subjects, which it leaves out of training",
    ),
    "rcn": Published(
        "RCN",
        0.7432,
        "Xia et al., IEEE TIP 2020; figure as issue 16 quotes it (variant not named), not checked against the paper",
        "xiazhaoqiang/ParameterFreeRCNs-MicroExpressionRec ModelTrain_Final.py",
        False,
        "the weights after the last epoch",
    ),
    "htnet": Published(
        "HTNet",
        0.8603,
        "Wang et al., Neurocomputing 2024; figure as issue 16 quotes it, not checked against the paper",
        "wangzhifengharrison/HTNet main_HTNet.py",
        True,
        "per held-out subject, the predictions of the epoch with the best accuracy on that subject",
    ),
    "sssnet": Published(
        "SSSNet",
        0.744,
        "Varanka et al., IS&T Electronic Imaging 2021; 0.744-0.762, the last-epoch composite UF1 of the MEB "
        "toolkit's notebooks as issue 23 quotes it, not checked against them",
        None,
        None,
        "",
    ),
    "facetoponet": Published(
        "FaceTopoNet",
        None,
        "Kolahdouzi et al., IEEE TAI 2022: facial expressions in the wild, no micro-expression result published",
        None,
        None,
        "",
    ),
}


def spread(values: list[float]) -> str:
    if len(values) > 1:
        return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"
    return f"{values[0]:.3f} (1 seed)"


def load_runs(root: Path) -> dict[str, list[dict]]:
    """``{model: [results of each seed]}``, each results with the run's ``epochs`` added."""
    runs: dict[str, list[dict]] = {}
    for group in sorted(p for p in root.iterdir() if p.is_dir()):
        for path in sorted(group.glob("*/results.json")):
            results = json.loads(path.read_text())
            config = path.parent / "config_resolved.yaml"
            results["epochs"] = OmegaConf.load(config).trainer.epochs if config.is_file() else None
            runs.setdefault(group.name, []).append(results)
    return runs


def _flags(results: list[dict]) -> list[str]:
    flags = sorted({r["partial"] for r in results if r.get("partial")})
    flags += sorted({r["selection"] for r in results if not r.get("selection", "").startswith("last_epoch")})
    if len(results) < SEEDS:
        flags.append(f"{len(results)} of {SEEDS} seeds")
    return flags


def row(name: str, results: list[dict]) -> str:
    published = PUBLISHED.get(name)
    title = published.name if published else name
    if not results:
        cells = ["not run"] + [""] * (len(HEADER) - 4)
    else:
        flags = _flags(results)
        if flags:
            title += " ⚠ " + "; ".join(flags)
        parts = [
            spread([r["per_dataset"][key]["uf1"] for r in results]) if key in results[0]["per_dataset"] else "–"
            for key, _ in PARTS
        ]
        epochs = ", ".join(sorted({str(r["epochs"]) for r in results}))
        minutes = statistics.mean(r.get("seconds", 0) for r in results) / 60
        cells = [
            str(len(results)),
            spread([r["uf1"] for r in results]),
            spread([r["uar"] for r in results]),
            *parts,
            epochs,
            f"{minutes:.1f}",
        ]
    if published:
        selects = {True: "**yes**", False: "no", None: "?"}[published.selects_on_test]
        cells += ["–" if published.uf1 is None else f"{published.uf1:.4f}", selects]
    else:
        cells += ["–", "ours: no"]
    return f"| {title} | " + " | ".join(cells) + " |"


def _mean_uf1(results: list[dict]) -> float:
    return statistics.mean(r["uf1"] for r in results) if results else -1.0


def leaderboard(root: Path) -> str:
    runs = load_runs(root)
    names = sorted(set(runs) | set(PUBLISHED), key=lambda n: (-_mean_uf1(runs.get(n, [])), n))
    example = any(_flags(r) for r in runs.values()) or not runs
    commits = sorted({r.get("git_commit", "?")[:7] for rs in runs.values() for r in rs})
    lines = ["# Leaderboard: flow models on the MEGC 2019 composite", ""]
    if example:
        lines += [
            "> **Not the leaderboard**: some runs below are partial or have fewer than "
            f"{SEEDS} seeds (marked ⚠); an example of the format.",
            "",
        ]
    lines += [
        "Leave-one-subject-out over the 68 subjects of SMIC, CASME II and SAMM (442 onset-apex flow images, "
        "three classes); every held-out subject scored with the weights after the last epoch, nothing "
        "selected on it. UF1 and UAR over the pooled predictions, mean ± sample std over seeds; each part's "
        "UF1 over its own samples. Published: the composite UF1 in the paper; *selects on test subject*: "
        "whether the authors' public training code scored each held-out subject with the epoch that did "
        "best on it (which inflates the figure).",
        "",
        f"Generated by `python benchmarks/leaderboard.py {root}` from the runs of commit(s) "
        f"{', '.join(commits) or '–'}; never edited by hand.",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "---|" * len(HEADER),
    ]
    lines += [row(n, runs.get(n, [])) for n in names]
    lines += ["", "Sources of the published figures and of what each public code selects:", ""]
    for p in PUBLISHED.values():
        code = f"its code ({p.code}) scores {p.selection}" if p.code else "no public code read"
        lines.append(f"- **{p.name}**: {p.paper}; {code}.")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="RUNS_ROOT/<model>/s<seed>/results.json")
    print(leaderboard(parser.parse_args().root), end="")


if __name__ == "__main__":
    main()
