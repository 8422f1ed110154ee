"""``python -m mer.report RUN [RUN ...]``: compare finished runs in one table (Markdown and LaTeX).

Runs whose resolved configurations differ only in ``seed`` form one row, with the mean and the
standard deviation over seeds (``n`` says how many); other runs get a row each. Writes
``comparison.md`` and ``comparison.tex`` beside the printout when ``--out DIR`` is given.

When the runs form exactly two groups, the report also says whether their UF1 difference is more
than chance: a paired bootstrap over the held-out subjects (:mod:`mer.evaluation.significance`),
with its interval and p-value.

``--curves FILE`` draws the runs' training curves over each other (each fold thin, each run's
mean over folds thick), to compare convergence.

``python -m mer.report --gather DIR`` pools the folds that separate jobs wrote to ``DIR/folds``
(``evaluation.fold=K`` in a Hydra multirun) into the same outputs as a single-process run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

from omegaconf import OmegaConf

from mer.atomic import write_text_atomic
from mer.evaluation.curves import curves_figure, read_curves
from mer.evaluation.loso import read_fold, read_relabelled
from mer.evaluation.report import RESULTS, finish_run
from mer.evaluation.significance import paired_bootstrap

METRICS = ("uf1", "uar", "accuracy")


def load_run(run: Path) -> tuple[dict, dict]:
    """``(results, resolved config)`` of a finished run directory: one with ``results.json``, which a
    run writes after every other output (:func:`mer.evaluation.report.write_run_outputs`)."""
    results_path, config_path = run / RESULTS, run / "config_resolved.yaml"
    if not results_path.is_file():
        if (run / "folds" / "plan.json").is_file():
            raise FileNotFoundError(
                f"{run}: an unfinished run (no {RESULTS}, which a run writes last); "
                "rerun its command, or --gather a multirun's folds"
            )
        raise FileNotFoundError(f"{run}: no {RESULTS} (not a run directory)")
    config = OmegaConf.to_container(OmegaConf.load(config_path)) if config_path.is_file() else {}
    return json.loads(results_path.read_text()), config


def group_by_seed(runs: Sequence[Path]) -> list[tuple[str, list[dict]]]:
    """Runs grouped by their configuration without ``seed``, in the order first seen."""
    groups: dict[str, list[dict]] = {}
    for run in runs:
        results, config = load_run(run)
        config.pop("seed", None)
        groups.setdefault(json.dumps(config, sort_keys=True, default=str), []).append({**results, "run": str(run)})
    labels = [f"{m[0].get('model', '?')} on {m[0].get('dataset', '?')}" for m in groups.values()]
    return [
        (label if labels.count(label) == 1 else f"{label} ({', '.join(Path(r['run']).name for r in members)})", members)
        for label, members in zip(labels, groups.values(), strict=True)
    ]


def _cell(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"


def comparison_rows(runs: Sequence[Path]) -> list[list[str]]:
    rows = []
    for label, members in group_by_seed(runs):
        seeds = ",".join(str(m.get("seed")) for m in members)
        rows.append([label, *(_cell([m[k] for m in members]) for k in METRICS), f"{len(members)} ({seeds})"])
    return rows


def markdown(rows: list[list[str]]) -> str:
    head = "| Run | UF1 | UAR | Accuracy | n (seeds) |\n|---|---|---|---|---|\n"
    return head + "".join("| " + " | ".join(r) + " |\n" for r in rows)


def latex(rows: list[list[str]]) -> str:
    body = "".join(" & ".join(c.replace("±", "$\\pm$").replace("_", "\\_") for c in r) + " \\\\\n" for r in rows)
    return (
        "% requires \\usepackage{booktabs}\n\\begin{tabular}{lrrrr}\n\\toprule\n"
        "Run & UF1 & UAR & Accuracy & $n$ (seeds) \\\\\n\\midrule\n" + body + "\\bottomrule\n\\end{tabular}\n"
    )


def significance(runs: Sequence[Path], resamples: int) -> str | None:
    """The paired-bootstrap sentence for two groups of runs; None for any other number of groups."""
    grouped = group_by_seed(runs)
    if len(grouped) != 2:
        return None
    (label_a, a), (label_b, b) = grouped
    missing = [m["run"] for m in a + b if not (Path(m["run"]) / "predictions.csv").is_file()]
    if missing:
        return f"significance: not tested, no predictions.csv in {', '.join(missing)}"
    predictions = lambda members: [read_fold(Path(m["run"]) / "predictions.csv") for m in members]  # noqa: E731
    try:
        difference = paired_bootstrap(predictions(a), predictions(b), a[0]["classes"], resamples=resamples)
    except ValueError as error:  # runs of other subjects: the table stands, the test cannot be made
        return f"significance: not tested, {error}"
    return difference.sentence(label_a, label_b)


def overlay_curves(runs: Sequence[Path], path: Path) -> None:
    """One figure of the training curves of ``runs``, labelled by run directory."""
    curves = {}
    for run in runs:
        plan_path = run / "folds" / "plan.json"
        folds = json.loads(plan_path.read_text())["folds"] if plan_path.is_file() else []
        curves[str(run)] = read_curves(run / "folds", folds)
        if not curves[str(run)]:
            raise FileNotFoundError(f"{run}: no training curves in folds/ (a run from before curves were written?)")
    curves_figure(path, curves)


def gather(run_dir: Path) -> dict:
    """Pool ``run_dir/folds`` into ``run_dir``'s results; every planned fold must be there."""
    folds_dir = run_dir / "folds"
    plan_path, config_path = folds_dir / "plan.json", folds_dir / "config.json"
    if not plan_path.is_file() or not config_path.is_file():
        raise FileNotFoundError(f"{folds_dir}: no plan.json/config.json (not the folds of a mer run)")
    plan, config = json.loads(plan_path.read_text()), json.loads(config_path.read_text())
    missing = [name for name in plan["folds"] if not (folds_dir / f"{name}.csv").is_file()]
    if missing:
        raise FileNotFoundError(f"{folds_dir}: {len(missing)} of {len(plan['folds'])} folds missing: {missing}")
    rows = [row for name in plan["folds"] for row in read_fold(folds_dir / f"{name}.csv")]
    return finish_run(
        config,
        plan,
        rows,
        run_dir,
        relabelled=read_relabelled(folds_dir, plan["folds"]),
        curves=read_curves(folds_dir, plan["folds"]),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="*", type=Path, help="run directories (each with results.json)")
    parser.add_argument("--out", type=Path, help="also write comparison.md and comparison.tex here")
    parser.add_argument("--gather", type=Path, metavar="DIR", help="pool DIR/folds/*.csv into DIR's results")
    parser.add_argument("--curves", type=Path, metavar="FILE", help="also draw the runs' training curves into FILE")
    parser.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples of the significance test")
    args = parser.parse_args(argv)
    if args.gather:
        try:
            results = gather(args.gather)
        except FileNotFoundError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        print(f"UF1 {results['uf1']:.4f}  UAR {results['uar']:.4f}  ({results['num_folds']} folds) -> {args.gather}")
        return 0
    if not args.runs:
        parser.error("give run directories to compare, or --gather DIR")
    try:
        rows = comparison_rows(args.runs)
        if args.curves:
            overlay_curves(args.runs, args.curves)
        verdict = significance(args.runs, args.resamples)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(markdown(rows))
    print(latex(rows))
    if verdict:
        print(verdict)
    if args.out:
        write_text_atomic(args.out / "comparison.md", markdown(rows) + (f"\n{verdict}\n" if verdict else ""))
        write_text_atomic(args.out / "comparison.tex", latex(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
