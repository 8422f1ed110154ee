"""A markdown table of runs grouped over seeds: UF1 and UAR mean +- std, each seed's UF1, wall time.

    python benchmarks/seed_table.py RUNS_ROOT

``RUNS_ROOT/<name>/<seed dir>/results.json`` for every run (``hydra.run.dir=RUNS_ROOT/<name>/s<seed>``):
one row per ``<name>``, the figures read from the runs, never typed. The sample standard deviation
over seeds is printed; a single seed is marked as such.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path


def rows(root: Path) -> list[str]:
    out = []
    for group in sorted(p for p in root.iterdir() if p.is_dir()):
        results = [json.loads(f.read_text()) for f in sorted(group.glob("*/results.json"))]
        if not results:
            continue
        uf1 = [r["uf1"] for r in results]
        uar = [r["uar"] for r in results]
        minutes = statistics.mean(r.get("seconds", 0) for r in results) / 60

        def spread(values: list[float]) -> str:
            return (
                f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"
                if len(values) > 1
                else (f"{values[0]:.3f} (1 seed)")
            )

        seeds = ", ".join(f"{u:.3f}" for u in uf1)
        out.append(f"| {group.name} | {len(results)} | {spread(uf1)} | {spread(uar)} | {seeds} | {minutes:.1f} |")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    args = parser.parse_args()
    print("| run | seeds | UF1 | UAR | UF1 by seed | minutes a run |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows(args.root)))


if __name__ == "__main__":
    main()
