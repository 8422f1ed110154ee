"""Imbalance ablation: CE, weighted CE, focal, LDAM-DRW and CRL + progressive under honest LOSO.

    python benchmarks/imbalance_ablation.py --name synthetic --out docs/ablation_imbalance_synthetic.md
    python benchmarks/imbalance_ablation.py --name megc2019 --out docs/ablation_imbalance_megc2019.md -- \\
        dataset=megc2019_flow model=ststnet dataset.root=../shared/data/megc2019_composite

Arguments after ``--`` are Hydra overrides shared by every setting. Each setting is a full run
(last-epoch evaluation, nothing selected on the held-out subjects) in ``--runs DIR/<setting>``, so an
interrupted ablation resumes. Writes a Markdown table of UF1, UAR and per-class recall.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

SETTINGS = {
    "CE": ["loss=ce", "schedule=standard"],
    "weighted CE": ["loss=weighted_ce", "schedule=standard"],
    "focal": ["loss=focal", "schedule=standard"],
    "LDAM-DRW": ["loss=ldam", "schedule=drw"],
    "CRL + progressive": ["loss=crl", "schedule=progressive"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", required=True, help="label of the data in the table")
    parser.add_argument("--out", type=Path, required=True, help="Markdown file to write")
    parser.add_argument("--runs", type=Path, default=Path("outputs/ablation"))
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for every setting (after --)")
    args = parser.parse_args()
    results = {}
    for setting, choice in SETTINGS.items():
        run_dir = args.runs / args.name / setting.replace(" ", "_").replace("+", "plus")
        command = [
            sys.executable,
            "-m",
            "mer.train",
            *args.overrides,
            *choice,
            "trainer.progress=false",
            f"hydra.run.dir={run_dir}",
        ]
        print(" ".join(command), flush=True)
        subprocess.run(command, check=True)
        results[setting] = json.loads((run_dir / "results.json").read_text())
    first = next(iter(results.values()))
    classes = first["classes"]
    shared = " ".join(args.overrides) or "-"
    lines = [
        f"# Imbalance ablation on {args.name}",
        "",
        f"{first['protocol_description']}; {first['selection']}. Shared overrides: `{shared}`.",
        "",
        "| Setting | UF1 | UAR | "
        + " | ".join(f"recall {c} (n={first['per_class']['support'][c]})" for c in classes)
        + " |",
        "|---" * (3 + len(classes)) + "|",
    ]
    for setting, r in results.items():
        recalls = " | ".join(f"{r['per_class']['recall'].get(c, float('nan')):.3f}" for c in classes)
        lines.append(f"| {setting} | {r['uf1']:.4f} | {r['uar']:.4f} | {recalls} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
