"""The screening of issue 25, as markdown from run directories: what each loss, schedule and method
adds to r3d, and which transformer recipe comes closest to r3d.

    python benchmarks/screening.py ROOT > docs/screening.md
    python benchmarks/screening.py --plan   # the planned configurations, "<name> <overrides>" a line

``ROOT/<classes>/<config>/s<seed>/`` is one run (``python -m mer.train dataset=features
dataset.root=<casme2_dev features> dataset/classes=<classes> model=r3d seed=<seed> <overrides>
hydra.run.dir=ROOT/<classes>/<config>/s<seed>``); a run a config refused or that failed leaves
``ROOT/<classes>/<config>/s<seed>.failed`` (its exit status and last log line) beside it.

One table per class set and model, one row per configuration (a name starting ``t_`` is a
transformer recipe): UF1 and UAR mean +- sample std over seeds (:func:`seed_table.spread`), each
seed's UF1, minutes a run, and the paired bootstrap over held-out subjects against r3d's ``default``
(and a transformer recipe against ``t_default`` too; :func:`mer.evaluation.significance.paired_bootstrap`, as
``python -m mer.report`` calls it with several runs a side: each side's seeds pooled), on the seeds
both have. Every planned configuration gets a row, run or not, so a missing one shows; every figure
is read from the runs, never typed, and the header says when the page is partial.

The overrides shown are those the runs recorded. The transformer's runs predate the recipe they
chose (``frame_grid: 2``, ``pooling: mean`` in ``configs/model/transformer.yaml``): there ``t_default``
is ``model=transformer`` and ``+model.frame_grid=2`` adds a key; to run them again today, spell them
as :func:`transformer` does (``--plan``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling scripts, also when loaded by path

import seed_table  # noqa: E402

from mer.evaluation.loso import read_fold  # noqa: E402
from mer.evaluation.nested import nested_choices  # noqa: E402
from mer.evaluation.significance import Difference, macro_f1, paired_bootstrap, subject_confusions  # noqa: E402

CLASS_SETS = {"megc3": "MEGC 3 classes (negative, positive, surprise)", "casme2_5": "CASME II 5 classes"}
BASELINE = "default"
# The switches, each alone on the default recipe (loss=ce, schedule=standard, every method off).
PLAN = {
    BASELINE: "",
    **{f"loss_{loss}": f"loss={loss}" for loss in ("weighted_ce", "focal", "cb_focal", "ldam", "crl")},
    **{f"schedule_{s}": f"schedule={s}" for s in ("drw", "progressive")},
    **{m: f"methods.{m}.enabled=true" for m in ("uncertainty", "eac", "au", "confidence", "dan")},
}


def transformer(grid: int = 1, pooling: str = "cls", extra: str = "") -> str:
    """The transformer's overrides on its recipe before the screening (one token a frame, the class
    token): the runs named ``model=transformer +model.frame_grid=2`` and so on, which the recipe the
    screening chose (frame_grid 2, mean pooling) now spells this way."""
    return f"model=transformer model.frame_grid={grid} model.pooling={pooling} {extra}".strip()


# Item 3: the transformer's default before the screening, and each change to its tokens or pooling alone.
TRANSFORMER_PLAN = {
    "t_default": transformer(),
    **{f"t_grid{g}": transformer(grid=g) for g in (2, 4)},
    "t_query": transformer(pooling="query"),
    "t_eac": transformer(extra="methods.eac.enabled=true"),
}
SEEDS = (0, 1, 2)  # the screening's seeds
CONFIRM = (3, 4, 5)  # the seeds a chosen combination is confirmed on, against the default on the same seeds
RESAMPLES = 2000  # as python -m mer.report
HEADER = ["config", "overrides", "seeds", "UF1", "UAR", "UF1 by seed", "minutes a run"]


@dataclass(frozen=True)
class Family:
    """The configurations screened on one model: its planned ones, and the baselines each is paired
    against (a paired column each)."""

    title: str
    plan: dict[str, str]
    baselines: tuple[str, ...]
    class_sets: tuple[str, ...]

    def holds(self, name: str) -> bool:
        return family_of(name) is self

    def header(self) -> list[str]:
        return HEADER + [f"UF1 − {b}, 95% interval, p (paired seeds)" for b in self.baselines]


R3D_FAMILY = Family("r3d: losses, schedules, methods", PLAN, (BASELINE,), tuple(CLASS_SETS))
TRANSFORMER_FAMILY = Family("transformer recipes", TRANSFORMER_PLAN, ("t_default", BASELINE), ("megc3",))
FAMILIES = (R3D_FAMILY, TRANSFORMER_FAMILY)


def family_of(name: str) -> Family:
    """A run directory's family, by its name: ``t_...`` the transformer's, any other r3d's."""
    return TRANSFORMER_FAMILY if name.startswith("t_") else R3D_FAMILY


@dataclass
class Config:
    """One configuration's runs in one class set: finished runs by seed, failure notes, the seeds of
    unfinished runs."""

    name: str
    runs: dict[int, Path]
    failed: dict[int, str]
    unfinished: list[int]

    def only(self, seeds: Sequence[int]) -> Config:
        """The runs, failures and unfinished runs of ``seeds`` only."""
        return Config(
            self.name,
            {s: r for s, r in self.runs.items() if s in seeds},
            {s: f for s, f in self.failed.items() if s in seeds},
            [s for s in self.unfinished if s in seeds],
        )

    def results(self) -> list[dict]:
        return [json.loads((self.runs[s] / "results.json").read_text()) for s in sorted(self.runs)]


def read_config(directory: Path) -> Config:
    runs, failed, unfinished = {}, {}, []
    for run in sorted(directory.glob("s*")):
        seed = run.name.removeprefix("s").removesuffix(".failed")
        if not seed.isdigit():  # a worker's claim (s0.claim), a log
            continue
        if run.is_dir() and (run / "results.json").is_file():
            runs[json.loads((run / "results.json").read_text())["seed"]] = run
        elif run.is_dir():
            unfinished.append(int(seed))
        elif run.suffix == ".failed":
            failed[int(seed)] = run.read_text().strip().splitlines()[-1]
    return Config(directory.name, runs, failed, [u for u in unfinished if u not in failed])


def overrides(run: Path) -> list[str]:
    """The command-line overrides Hydra recorded for a run (``.hydra/overrides.yaml``)."""
    path = run / ".hydra" / "overrides.yaml"
    return [str(o) for o in OmegaConf.load(path)] if path.is_file() else []


def own_overrides(config: Config, baseline: Config | None) -> str:
    """What a configuration sets beyond the baseline's command line (the planned ones if it has no run)."""
    if not config.runs:
        return {**PLAN, **TRANSFORMER_PLAN}.get(config.name, "?")
    common = {o for run in (baseline.runs.values() if baseline else []) for o in overrides(run)}
    own = [
        o
        for o in overrides(next(iter(config.runs.values())))
        if o not in common and o.split("=")[0] not in ("seed", "hydra.run.dir")
    ]
    return " ".join(own) or "–"


def is_combination(config: Config, baseline: Config | None) -> bool:
    """Two or more of the plan's switches together and nothing else: what seeds 3-5 confirm (a switch
    with one of its settings changed, such as re-labelling off, is a row but not a combination)."""
    own = set(own_overrides(config, baseline).split())
    switches = [set(o.split()) for o in PLAN.values() if o and set(o.split()) <= own]
    return len(switches) >= 2 and own == set().union(*switches)


def paired(config: Config, baseline: Config, classes: Sequence[str]) -> tuple[Difference, list[int]] | None:
    """The paired bootstrap of ``config`` minus ``baseline`` on the seeds both ran, each side's seeds pooled."""
    seeds = sorted(set(config.runs) & set(baseline.runs))
    if not seeds:
        return None
    predictions = lambda c: [read_fold(c.runs[s] / "predictions.csv") for s in seeds]  # noqa: E731
    return paired_bootstrap(predictions(config), predictions(baseline), classes, resamples=RESAMPLES), seeds


def difference_cell(config: Config, baseline: Config | None, classes: Sequence[str]) -> str:
    if baseline is None or config.name == baseline.name or not config.runs:
        return "–"
    found = paired(config, baseline, classes)
    if found is None:
        return f"no seed in common with {baseline.name}"
    d, seeds = found
    mark = "**" if d.p_value < 1 - d.level else ""
    return (
        f"{mark}{d.observed:+.3f} [{d.low:+.3f}, {d.high:+.3f}], p = {d.p_value:.3f}{mark} "
        f"({','.join(map(str, seeds))})"
    )


def row(config: Config, baselines: Sequence[Config | None], shared: Config | None) -> list[str]:
    """One configuration's cells; the overrides shown are those beyond ``shared``'s (r3d's default)."""
    notes = [f"s{s}: {line}" for s, line in sorted(config.failed.items())]
    notes += [f"s{u}: unfinished" for u in config.unfinished]
    name = config.name + (" ⚠ " + "; ".join(notes) if notes else "")
    if not config.runs:
        return [name, own_overrides(config, shared), "0", *(["not run"] * 4), *(["–"] * len(baselines))]
    results = config.results()
    uf1, uar = [r["uf1"] for r in results], [r["uar"] for r in results]
    partial = [f"s{r['seed']}: {r['partial']}" for r in results if r.get("partial")]
    if partial:
        name += " ⚠ partial: " + "; ".join(partial)
    return [
        name,
        own_overrides(config, shared),
        ",".join(str(s) for s in sorted(config.runs)),
        seed_table.spread(uf1),
        seed_table.spread(uar),
        ", ".join(f"{u:.3f}" for u in uf1),
        f"{statistics.mean(r['seconds'] for r in results) / 60:.1f}",
        *(difference_cell(config, b, results[0]["classes"]) for b in baselines),
    ]


@dataclass
class NestedChoice:
    """The screening's own choice, scored honestly: each held-out subject under the configuration
    with the best mean UF1 over the screening's seeds on the other subjects."""

    uf1: list[float]  # a seed each, over every subject
    chosen: Counter  # configuration: subjects that chose it
    candidates: int

    def sentence(self) -> str:
        chosen = ", ".join(f"{name} {n}" for name, n in self.chosen.most_common())
        return (
            f"Nested choice among the {self.candidates} configurations with seeds {SEEDS}: each held-out subject "
            f"scored with the one best on the other subjects: **UF1 {seed_table.spread(self.uf1)}** "
            f"(subjects choosing: {chosen})."
        )


def nested_choice(listed: Sequence[Config]) -> NestedChoice | None:
    """:class:`NestedChoice` among the configurations with every screening seed (None below two)."""
    complete = [c for c in listed if set(SEEDS) <= set(c.runs)]
    if len(complete) < 2:
        return None
    classes = complete[0].results()[0]["classes"]
    rows = {c.name: [read_fold(c.runs[s] / "predictions.csv") for s in SEEDS] for c in complete}
    subjects = sorted({r["subject"] for r in rows[complete[0].name][0]})
    # configuration x seed x subject x K x K
    confusions = np.stack([[subject_confusions(r, subjects, classes) for r in rows[c.name]] for c in complete])

    def best(train: np.ndarray) -> int:
        return int(macro_f1(confusions[:, :, train].sum(axis=2)).mean(axis=1).argmax())

    chosen = nested_choices(best, subjects)
    nested = np.stack([confusions[chosen[s], :, i] for i, s in enumerate(subjects)], axis=1)  # seed x subject
    return NestedChoice(
        uf1=macro_f1(nested.sum(axis=1)).tolist(),
        chosen=Counter(complete[i].name for i in chosen.values()),
        candidates=len(complete),
    )


def configs(root: Path, family: Family = R3D_FAMILY) -> list[Config]:
    """``family``'s planned configurations in plan order, run or not, then its others found under ``root``."""
    found = {d.name for d in root.iterdir() if d.is_dir() and family.holds(d.name)} if root.is_dir() else set()
    names = [*family.plan, *sorted(found - set(family.plan))]
    return [read_config(root / n) if n in found else Config(n, {}, {}, []) for n in names]


def table(root: Path, family: Family = R3D_FAMILY, seeds: Sequence[int] = SEEDS) -> list[str]:
    """The family's rows on ``seeds`` (the screening's; with :data:`CONFIRM`, only the configurations
    run on them)."""
    read = {n: read_config(root / n) for n in {*family.baselines, BASELINE} if (root / n).is_dir()}
    listed = [c.only(seeds) for c in configs(root, family)]
    if seeds != SEEDS:
        listed = [c for c in listed if c.runs or c.failed or c.unfinished]
    kept = {n: c.only(seeds) for n, c in read.items()}
    baselines = [kept[b] if b in kept and kept[b].runs else None for b in family.baselines]
    shared = read.get(BASELINE)  # every seed's command line: the overrides shown are those beyond it
    header = family.header()
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row(c, baselines, shared)) + " |" for c in listed]


def all_results(root: Path) -> list[tuple[Path, dict]]:
    return [(p.parent, json.loads(p.read_text())) for p in sorted(root.glob("*/*/s*/results.json"))]


def run_facts(root: Path) -> list[str]:
    """What the runs themselves say about where they ran, on what, from which commit."""
    found = all_results(root)
    if not found:
        return ["No finished run yet."]
    commits = sorted({r.get("git_commit", "?")[:10] for _, r in found})
    fingerprints = sorted({r.get("data_fingerprint", "?") for _, r in found})
    devices = sorted({line.split(" folds on ")[-1].strip() for run, _ in found for line in _first_line(run)})
    roots, epochs, subjects, models = set(), set(), set(), set()
    for run, r in found:
        config = OmegaConf.load(run / "config_resolved.yaml")
        models.add(str(OmegaConf.select(config, "model._target_", default="?")).rsplit(".", 1)[-1])
        roots.add(str(config.dataset.root))
        epochs.add(str(config.trainer.epochs))
        subjects.add(f"{r['num_folds']} folds, {r['num_samples']} samples")
        provenance = Path(config.dataset.root) / "provenance.json"
        if provenance.is_file():
            roots.add(f"computed from {json.loads(provenance.read_text())['dataset']['root']}")
    selections = sorted({r["selection"].split(":")[0] for _, r in found})
    baseline = sorted(
        {
            " ".join(o for o in overrides(run) if o.split("=")[0] not in ("seed", "hydra.run.dir"))
            for run, _ in found
            if run.parent.name == BASELINE
        }
    )
    return [
        f"- Runs read: {len(found)}; models {', '.join(sorted(models))} on flow-clip features "
        f"({'; '.join(sorted(roots))}).",
        f"- Per class set, LOSO over casme2_dev's subjects: {'; '.join(sorted(subjects))}; epochs {', '.join(epochs)}; "
        f"weights scored: {', '.join(selections)} (nothing selected on a held-out subject).",
        "- `default` is `python -m mer.train` with: "
        + "; ".join(f"`{b}`" for b in baseline)
        + " (the command lines Hydra recorded); each other row adds its overrides.",
        f"- Device of the runs (their train.log): {', '.join(devices) or '?'}; commit(s) the runs recorded: "
        f"{', '.join(commits)}{_changed(commits)}; data fingerprint(s): {', '.join(fingerprints)}.",
    ]


def _changed(commits: list[str]) -> str:
    """Which of mer/ changed between the runs' commits (git's order), so a reader sees whether it matters."""
    if len(commits) < 2:
        return ""
    try:
        ordered = subprocess.run(
            ["git", "rev-list", "--no-walk", "--date-order", *commits], capture_output=True, text=True, check=True
        ).stdout.split()
        changed = subprocess.run(
            ["git", "diff", "--name-only", ordered[-1], ordered[0], "--", "mer"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return " (not in this checkout's history: what changed between them unknown)"
    return f" (mer/ files changed from the first to the last: {', '.join(changed) or 'none'})"


def _first_line(run: Path) -> list[str]:
    log = run / "train.log"
    lines = log.read_text().splitlines() if log.is_file() else []
    return [line for line in lines[:5] if " folds on " in line]


def _git_head() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short=10", "HEAD"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "?"
    return out.stdout.strip()


def incomplete(root: Path) -> list[str]:
    """Why the page is partial: each class set or configuration short of the plan's seeds."""
    out = []
    for family in FAMILIES:
        for classes in family.class_sets:
            listed = configs(root / classes, family)
            plan = family.plan
            short = [c.name for c in listed if c.name in plan and not set(SEEDS) <= set(c.runs) | set(c.failed)]
            what = f"{classes}, {family.title}"
            if len(short) == len(plan) and not any(c.runs for c in listed):
                out.append(f"{what}: not run")
            elif short:
                out.append(f"{what}: {len(short)} of {len(plan)} short of seeds {SEEDS}: {', '.join(short)}")
    combined = []
    for k in CLASS_SETS:
        baseline = read_config(root / k / BASELINE) if (root / k / BASELINE).is_dir() else None
        combined += [(k, c) for c in configs(root / k, R3D_FAMILY) if c.runs and is_combination(c, baseline)]
    if not combined:
        out.append(f"no combination of the switches run, none confirmed on seeds {CONFIRM}")
    out += [f"{k}: {c.name} not confirmed on seeds {CONFIRM}" for k, c in combined if not set(CONFIRM) <= set(c.runs)]
    return out


def page(root: Path, machine: str) -> str:
    missing = incomplete(root)
    head = [
        "# Screening: losses, schedules and methods on r3d, and the transformer's recipe (issue 25)",
        "",
        "Generated by `python benchmarks/screening.py "
        f"{root}` on {datetime.date.today().isoformat()} at commit {_git_head()} ({machine}); "
        "see the script's docstring for how each run was made.",
        "",
        *run_facts(root),
        "- No setting was chosen on any subject outside casme2_dev: every run trains and holds out "
        "casme2_dev's subjects only, and the default recipe and the switches' settings are the configs' own.",
        "- UF1 and UAR: mean ± sample std over seeds. Paired column: UF1 of the config minus `default`, "
        f"on the seeds both ran, the two sides' seeds pooled as `python -m mer.report` does; {RESAMPLES} "
        "resamples of the held-out subjects, 95% interval, two-sided p; bold where p < 0.05. "
        "Not corrected for the number of switches compared. Minutes a run: the run's own wall time "
        "(results.json `seconds`), which on a shared machine moves with the load.",
        "",
    ]
    if missing:
        head += ["**Partial: these numbers are not the screening the issue asks for.**", ""]
        head += [f"- {m}" for m in missing] + [""]
    body = []
    for family in FAMILIES:
        for classes in family.class_sets:
            body += [f"## {CLASS_SETS[classes]} (`dataset/classes={classes}`): {family.title}", ""]
            if not (root / classes).is_dir():
                body += ["Not run.", ""]
                continue
            body += table(root / classes, family) + [""]
            choice = nested_choice(configs(root / classes, family))
            body += [choice.sentence(), ""] if choice else []
            confirmed = table(root / classes, family, CONFIRM)
            if len(confirmed) > 2:
                body += [f"Confirmation on seeds {CONFIRM}, each against the default on the same seeds:", ""]
                body += confirmed + [""]
    return "\n".join(head + body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, nargs="?")
    parser.add_argument("--plan", action="store_true", help="print the planned configurations and exit")
    args = parser.parse_args()
    if args.plan:
        print("\n".join(f"{name} {o}".strip() for name, o in {**PLAN, **TRANSFORMER_PLAN}.items()))
        return
    if args.root is None:
        parser.error("give the runs root, or --plan")
    from clip_models import cpu_name  # imports cv2 and mer.data: only for the page

    print(page(args.root, f"{cpu_name()}, {os.cpu_count()} cores"))


if __name__ == "__main__":
    main()
