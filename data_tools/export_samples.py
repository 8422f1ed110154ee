"""Write any configured dataset's samples as a canonical CSV, the ones training would see.

    python data_tools/export_samples.py --out samples.csv dataset=NAME dataset.root=DIR [KEY=VALUE ...]

The ``KEY=VALUE`` arguments are Hydra overrides of ``configs/``, exactly as for ``python -m
mer.train`` (``dataset=smic dataset.root=/data/SMIC/HS``, ``dataset=casme3 dataset.root=...
dataset.annotations=labels.xlsx``). The CSV (``subject,clip,onset,apex,offset,emotion,au[,fps]``,
``clip`` relative to ``dataset.root``) reads back with ``dataset=csv dataset.root=<the same root>
dataset.annotations=samples.csv`` and the release's ``dataset/classes``: the same samples, in the
same order, with the same ids. Every clip is opened and checked unless ``--sheet-only``.

Exit status 2 if the dataset cannot be read (the message names the sheet and line).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mer.atomic import write_csv_atomic
from mer.compose import compose_config, load_samples
from mer.config_check import reporting_user_errors
from mer.data.annotations import Sample, canonical_columns, canonical_row


def export(samples: list[Sample], out: Path, root: str | Path | None) -> None:
    """``samples`` as a canonical CSV at ``out`` (written atomically)."""
    columns = canonical_columns(samples)
    rows = (canonical_row(s, None if root is None else Path(root)) for s in samples)
    write_csv_atomic(out, columns, ([row[c] for c in columns] for row in rows))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="Hydra overrides: dataset=... and its keys")
    parser.add_argument("--out", type=Path, required=True, help="the canonical CSV to write")
    parser.add_argument("--sheet-only", action="store_true", help="read the sheet without opening any clip")
    args = parser.parse_intermixed_args(argv)

    def work() -> int:
        cfg = compose_config(args.overrides)
        samples = load_samples(cfg, clips="sheet" if args.sheet_only else "checked")
        export(samples, args.out, cfg.dataset.get("root"))
        print(f"{len(samples)} samples of dataset={cfg.dataset.name} -> {args.out}")
        return 0

    return reporting_user_errors(work)


if __name__ == "__main__":
    sys.exit(main())
