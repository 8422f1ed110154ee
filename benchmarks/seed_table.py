"""A markdown table of runs grouped over seeds: UF1 and UAR mean +- std, each seed's UF1, wall time.

    python benchmarks/seed_table.py RUNS_ROOT
    python benchmarks/seed_table.py RUNS_ROOT --per-dataset   # UF1 of each database (composite, lodo)

``RUNS_ROOT/<name>/<seed dir>/results.json`` for every run (``hydra.run.dir=RUNS_ROOT/<name>/s<seed>``):
one row per ``<name>``, the figures read from the runs, never typed. The sample standard deviation
over seeds is printed; a single seed is marked as such.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path


def spread(values: list[float]) -> str:
    if len(values) > 1:
        return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"
    return f"{values[0]:.3f} (1 seed)"


def groups(root: Path) -> list[tuple[str, list[dict]]]:
    found = [
        (g.name, [json.loads(f.read_text()) for f in sorted(g.glob("*/results.json"))])
        for g in sorted(root.iterdir())
        if g.is_dir()
    ]
    return [(name, results) for name, results in found if results]


def dataset_rows(root: Path) -> list[str]:
    """One row per group: each database's UF1 over seeds, then all samples pooled."""
    out = []
    for name, results in groups(root):
        first = results[0]["per_dataset"]
        cells = [
            f"{d} ({first[d]['num_samples']}): {spread([r['per_dataset'][d]['uf1'] for r in results])}"
            for d in sorted(first)
        ]
        out.append(f"| {name} | {len(results)} | " + " | ".join(cells) + f" | {spread([r['uf1'] for r in results])} |")
    return out


def rows(root: Path) -> list[str]:
    out = []
    for group, results in groups(root):
        uf1 = [r["uf1"] for r in results]
        uar = [r["uar"] for r in results]
        minutes = statistics.mean(r.get("seconds", 0) for r in results) / 60
        seeds = ", ".join(f"{u:.3f}" for u in uf1)
        out.append(f"| {group} | {len(results)} | {spread(uf1)} | {spread(uar)} | {seeds} | {minutes:.1f} |")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--per-dataset", action="store_true", help="UF1 of each source database")
    args = parser.parse_args()
    if args.per_dataset:
        print("| run | seeds | UF1 of each database (samples) | | | all |\n|---|---|---|---|---|---|")
        print("\n".join(dataset_rows(args.root)))
        return
    print("| run | seeds | UF1 | UAR | UF1 by seed | minutes a run |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows(args.root)))


if __name__ == "__main__":
    main()
