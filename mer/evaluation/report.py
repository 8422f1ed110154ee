"""A run's results: pooled metrics per dataset, ``results.json``, ``predictions.csv``, ``report.md``."""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

from mer.atomic import write_csv_atomic, write_json_atomic, write_text_atomic
from mer.evaluation.curves import curves_figure
from mer.evaluation.figures import confusion_figure, subject_figure
from mer.evaluation.loso import columns, has_aus
from mer.evaluation.metrics import au_scores, score

log = logging.getLogger(__name__)

#: Written last of a run's outputs: a run directory without it is unfinished.
RESULTS = "results.json"


def summarize(rows: Sequence[Mapping[str, str]], class_names: Sequence[str], **meta: object) -> dict:
    """Pooled scores overall, per source dataset and per subject, plus ``meta`` (protocol, selection...)."""
    index = {name: i for i, name in enumerate(class_names)}

    def scored(subset: Sequence[Mapping[str, str]]) -> dict:
        return score([index[r["label"]] for r in subset], [index[r["prediction"]] for r in subset], class_names)

    by_dataset, by_subject = defaultdict(list), defaultdict(list)
    for r in rows:
        by_dataset[r["dataset"]].append(r)
        by_subject[r["subject"]].append(r)
    overall = scored(rows)
    extra = {}
    if has_aus(rows):
        split = lambda text: [a for a in text.split("+") if a]  # noqa: E731
        extra["action_units"] = au_scores([split(r["aus"]) for r in rows], [split(r["aus_predicted"]) for r in rows])
    return {
        "uf1": overall["uf1"],
        "uar": overall["uar"],
        "accuracy": overall["accuracy"],
        "num_samples": overall["num_samples"],
        "num_folds": len({r["fold"] for r in rows}),
        **meta,
        "classes": list(class_names),
        "per_class": {"support": overall["support"], "recall": overall["recall"], "f1": overall["f1"]},
        "classes_without_samples": overall["classes_without_samples"],
        "confusion_matrix": overall["confusion_matrix"],
        "per_dataset": {
            name: {k: v for k, v in scored(subset).items() if k in ("uf1", "uar", "accuracy", "num_samples")}
            for name, subset in sorted(by_dataset.items())
        },
        "per_subject_accuracy": {
            s: sum(r["label"] == r["prediction"] for r in subset) / len(subset) for s, subset in by_subject.items()
        },
        **extra,
    }


def markdown_report(results: Mapping) -> str:
    """The paper-facing summary: the table, the protocol and selection rule, the confusion matrix."""
    lines = [
        f"# {results.get('model', 'model')} on {results.get('dataset', 'dataset')}",
        "",
        f"- Protocol: {results['protocol_description']}",
        f"- Model selection: {results['selection']}",
        f"- Seed: {results.get('seed')}",
    ]
    if results.get("partial"):
        lines.append(f"- **Partial run**: {results['partial']}")
    lines += ["", "| Dataset | UF1 | UAR | Accuracy | Samples |", "|---|---|---|---|---|"]
    table = dict(results["per_dataset"])
    if len(table) > 1:
        table["**all**"] = results
    for name, r in table.items():
        lines.append(f"| {name} | {r['uf1']:.4f} | {r['uar']:.4f} | {r['accuracy']:.4f} | {r['num_samples']} |")
    classes = results["classes"]
    lines += ["", "UF1 and UAR are macro F1 and macro recall over the pooled predictions of all folds.", ""]
    if results["classes_without_samples"]:
        lines += [
            f"Classes with no test sample (left out of the macro averages): {results['classes_without_samples']}",
            "",
        ]
    lines += ["![confusion matrix](confusion_matrix.png) ![per-subject accuracy](per_subject_accuracy.png)", ""]
    if results.get("curves"):
        lines += [
            f"Training curves of the {results['curves']} folds (per-epoch CSVs in `folds/`): "
            "![training curves](curves.png)",
            "",
        ]
    for note in results.get("sample_notes") or []:
        lines.append(f"- Sample note: {note}")
    if results.get("left_out_no_face"):
        lines.append(f"- Left out, no face found: {', '.join(results['left_out_no_face'])}")
    if results.get("sample_notes") or results.get("left_out_no_face"):
        lines.append("")
    lines += ["## Per class", "", "| Class | Support | Recall | F1 |", "|---|---|---|---|"]
    for c in classes:
        recall, f1 = results["per_class"]["recall"].get(c), results["per_class"]["f1"].get(c)
        fmt = lambda v: "-" if v is None else f"{v:.4f}"  # noqa: E731
        lines.append(f"| {c} | {results['per_class']['support'][c]} | {fmt(recall)} | {fmt(f1)} |")
    lines += ["", "## Confusion matrix (rows: true, columns: predicted)", ""]
    lines += ["| | " + " | ".join(classes) + " |", "|---" * (len(classes) + 1) + "|"]
    for c, row in zip(classes, results["confusion_matrix"], strict=True):
        lines.append(f"| **{c}** | " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines + _au_lines(results) + _relabel_lines(results)) + "\n"


def _au_lines(results: Mapping) -> list[str]:
    au = results.get("action_units")
    if not au:
        return []
    if not au["num_samples"]:
        return ["", "## Action units", "", "No test sample carries AU annotations; the AU head is not scored."]
    lines = [
        "",
        "## Action units (auxiliary head)",
        "",
        f"F1 per AU over the {au['num_samples']} test samples with AU annotations (threshold 0.5); "
        f"mean over the annotated AUs: {au['mean_f1']:.4f}.",
        "",
        "| AU | Support | F1 |",
        "|---|---|---|",
    ]
    return lines + [f"| AU{a} | {au['support'][a]} | {f1:.4f} |" for a, f1 in au["f1"].items()]


def _relabel_lines(results: Mapping) -> list[str]:
    counts = results.get("relabelled")
    if counts is None:
        return []
    lines = [
        "",
        "## Re-labelled training samples",
        "",
        f"{counts['total']} training-sample labels changed, summed over the folds (each fold re-labels only "
        "its own training subjects; held-out subjects keep their labels).",
    ]
    if counts["total"]:
        lines += ["", "| From | To | Samples |", "|---|---|---|"]
        lines += [f"| {pair.split(' -> ')[0]} | {pair.split(' -> ')[1]} | {n} |" for pair, n in counts["pairs"].items()]
    return lines


def _tex(text: str) -> str:
    return text.replace("\\", "\\textbackslash{}").replace("_", "\\_").replace("%", "\\%").replace("&", "\\&")


def latex_report(results: Mapping) -> str:
    """A booktabs table (UF1, UAR, accuracy overall and per dataset) with protocol and selection."""
    table = dict(results["per_dataset"])
    rows = [
        f"{_tex(name)} & {r['uf1']:.4f} & {r['uar']:.4f} & {r['accuracy']:.4f} & {r['num_samples']} \\\\"
        for name, r in table.items()
    ]
    if len(table) > 1:
        rows += [
            "\\midrule",
            f"All & {results['uf1']:.4f} & {results['uar']:.4f} & {results['accuracy']:.4f} & "
            f"{results['num_samples']} \\\\",
        ]
    caption = (
        f"{_tex(str(results.get('model', 'model')))} on {_tex(str(results.get('dataset', 'dataset')))}: "
        f"{_tex(results['protocol_description'])}; {_tex(results['selection'])}."
    )
    if results.get("partial"):
        caption += f" Partial run: {_tex(results['partial'])}."
    return "\n".join(
        [
            "% requires \\usepackage{booktabs}",
            "\\begin{table}[t]",
            "\\centering",
            f"\\caption{{{caption}}}",
            "\\begin{tabular}{lrrrr}",
            "\\toprule",
            "Dataset & UF1 & UAR & Accuracy & Samples \\\\",
            "\\midrule",
            *rows,
            "\\bottomrule",
            "\\end{tabular}",
            "\\end{table}",
            "",
        ]
    )


def write_run_outputs(
    run_dir: Path, rows: Sequence[Mapping[str, str]], results: Mapping, curves: Mapping | None = None
) -> None:
    """``predictions.csv``, ``report.md``, ``report.tex``, the figures (``curves.png`` where the folds'
    training ``curves`` are given) and, last, ``results.json`` in ``run_dir``.

    ``results.json`` is what marks a run finished (:func:`mer.report.load_run`): it goes first (a
    rewrite is unfinished until it ends) and comes back last, so an interruption never leaves it
    beside outputs that are missing or from another pass.
    """
    (run_dir / RESULTS).unlink(missing_ok=True)
    if curves:
        curves_figure(run_dir / "curves.png", {str(results.get("model", "model")): curves})
    names = columns(rows)
    write_csv_atomic(run_dir / "predictions.csv", names, ([r[c] for c in names] for r in rows))
    write_text_atomic(run_dir / "report.md", markdown_report(results))
    write_text_atomic(run_dir / "report.tex", latex_report(results))
    confusion_figure(run_dir / "confusion_matrix.png", results["confusion_matrix"], results["classes"])
    subject_figure(run_dir / "per_subject_accuracy.png", results["per_subject_accuracy"])
    write_json_atomic(run_dir / RESULTS, dict(results))


def finish_run(
    config: Mapping,
    plan: Mapping,
    rows: Sequence[Mapping[str, str]],
    run_dir: Path,
    seconds: float | None = None,
    relabelled: Sequence[Mapping[str, str]] | None = None,
    curves: Mapping | None = None,
) -> dict:
    """Pool the prediction rows of a run (or of gathered fold jobs) and write every output.

    Args:
        config: the resolved configuration as plain containers.
        plan: ``folds`` (all planned fold names), ``fold_seeds``, ``protocol_description``,
            ``data_fingerprint`` and ``git_commit`` (of the code when the run started), as the run
            wrote them to ``folds/plan.json``.
        relabelled: the training samples that confidence re-labelling changed, one row each with
            ``from`` and ``to`` classes (None: re-labelling was off).
        curves: fold name -> training curve (:func:`mer.evaluation.curves.read_curves`).
    """
    import mer

    done = sorted({r["fold"] for r in rows})
    evaluation, trainer, model = config["evaluation"], config["trainer"], config["model"]
    partial = None
    if len(done) < len(plan["folds"]):
        partial = f"only {len(done)} of {len(plan['folds'])} folds were run"
        if evaluation.get("max_folds"):
            partial += f" (evaluation.max_folds={evaluation['max_folds']})"
    results = summarize(
        rows,
        config["dataset"]["classes"]["names"],
        protocol=evaluation["protocol"],
        protocol_description=plan["protocol_description"],
        num_folds_planned=len(plan["folds"]),
        partial=partial,
        selection=f"{evaluation['selection']}: the held-out subjects are scored with the weights after the "
        f"last of {trainer['epochs']} epochs; nothing is selected on them",
        seed=config["seed"],
        fold_seeds={name: plan["fold_seeds"][name] for name in done},
        git_commit=plan.get("git_commit"),
        data_fingerprint=plan["data_fingerprint"],
        dataset=config["dataset"]["name"],
        model=model["_target_"].rsplit(".", 1)[-1],
        model_target=model["_target_"],
        version=mer.__version__,
        seconds=None if seconds is None else round(seconds, 1),
        curves=len(curves or {}),
        left_out_no_face=list(plan.get("left_out_no_face", [])),
        sample_notes=list(plan.get("sample_notes", [])),
    )
    if relabelled is not None:
        pairs = Counter(f"{r['from']} -> {r['to']}" for r in relabelled)
        results["relabelled"] = {"total": len(relabelled), "pairs": dict(sorted(pairs.items()))}
    write_run_outputs(run_dir, rows, results, curves)
    log.info(
        "UF1 %.4f  UAR %.4f  accuracy %.4f  (%d folds, %d samples) -> %s",
        results["uf1"],
        results["uar"],
        results["accuracy"],
        results["num_folds"],
        results["num_samples"],
        run_dir,
    )
    return results
