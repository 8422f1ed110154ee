"""Ablations under honest LOSO: one full run per setting, one table.

``--study imbalance``: CE, weighted CE, focal, LDAM-DRW and CRL + progressive (issue #4).
``--study methods``: the backbone alone and with each training method of :mod:`mer.methods`.

    python benchmarks/ablation.py --study imbalance --name synthetic --out docs/ablation_imbalance_synthetic.md
    python benchmarks/ablation.py --study imbalance --name megc2019 --out docs/ablation_imbalance_megc2019.md -- \\
        dataset=megc2019_flow model=ststnet dataset.root=../shared/data/megc2019_composite

Arguments after ``--`` are Hydra overrides shared by every setting. Each setting is a full run
(last-epoch evaluation, nothing selected on the held-out subjects) in ``--runs DIR/<setting>``, so an
interrupted ablation resumes. ``--only`` runs some of the settings. Writes a Markdown table of UF1,
UAR and per-class recall (and, for the methods, the re-labelled training samples and AU F1).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

STUDIES = {
    "imbalance": {
        "CE": ["loss=ce", "schedule=standard"],
        "weighted CE": ["loss=weighted_ce", "schedule=standard"],
        "focal": ["loss=focal", "schedule=standard"],
        "LDAM-DRW": ["loss=ldam", "schedule=drw"],
        "CRL + progressive": ["loss=crl", "schedule=progressive"],
    },
    "methods": {
        "baseline": [],
        "+ uncertainty mixing": ["methods.uncertainty.enabled=true"],
        "+ EAC": ["methods.eac.enabled=true"],
        "+ confidence & re-labelling": ["methods.confidence.enabled=true"],
        "+ DAN heads": ["methods.dan.enabled=true"],
        "+ AU head (graph)": ["methods.au.enabled=true", "methods.au.graph=true"],
    },
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--study", choices=sorted(STUDIES), default="imbalance")
    parser.add_argument("--name", required=True, help="label of the data in the table")
    parser.add_argument("--only", nargs="*", help="run only these settings (names as in the table)")
    parser.add_argument("--out", type=Path, required=True, help="Markdown file to write")
    parser.add_argument("--runs", type=Path, default=Path("outputs/ablation"))
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for every setting (after --)")
    args = parser.parse_args()
    settings = STUDIES[args.study]
    if args.only:
        settings = {name: settings[name] for name in args.only}
    results = {}
    for setting, choice in settings.items():
        words = setting.replace("+", "plus").replace("&", "and").split()
        run_dir = args.runs / args.name / re.sub(r"[^\w.-]", "", "_".join(words))  # a valid Hydra override value
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
        f"# {args.study.capitalize()} ablation on {args.name}",
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
    for setting, r in results.items():
        if "relabelled" in r:
            lines.append(
                f"\n{setting}: {r['relabelled']['total']} training labels changed over all folds "
                f"({', '.join(f'{k}: {v}' for k, v in r['relabelled']['pairs'].items()) or 'none'})."
            )
        if r.get("action_units", {}).get("mean_f1") is not None:
            au = r["action_units"]
            scored = f"{au['num_samples']} AU-annotated test samples"
            lines.append(f"\n{setting}: mean AU F1 {au['mean_f1']:.4f} over {scored}.")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
