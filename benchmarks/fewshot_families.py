"""Re-score stored few-shot episodes with the family-weighted bootstrap (issue 13): no model is refitted.

Reads ``episodes.csv.gz`` files written by ``metamat bench fewshot`` (several may be combined when they used
the same seed, tasks and shots, e.g. the 100-episode baselines and learners runs), maps each task to its
family (quantity group of the task catalogue) and writes, for each model and k, the old summary (mean over
tasks, t-interval over episode indices) beside the family-weighted mean with its bootstrap interval over
families, tasks and episodes (:mod:`metamat.evaluate.uncertainty`), and the per-family table.

    PYTHONPATH=. python benchmarks/fewshot_families.py benchmarks/results/fewshot_baselines/episodes.csv.gz \
        benchmarks/results/fewshot_learners/episodes.csv.gz --out benchmarks/results/fewshot_families
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pandas as pd

from metamat.evaluate.scoring import summarize
from metamat.evaluate.uncertainty import family_summary
from metamat.files import atomic_write, write_json
from metamat.tasks.catalog import TASKS

META = {"task", "model", "k", "episode", "seconds", "cpu_seconds", "error"}
METRICS = ("smae", "srmse", "coverage90", "interval_coverage90")


def records_of(paths: list[Path]) -> list[dict]:
    out = []
    for p in paths:
        df = pd.read_csv(p)
        cols = [c for c in df.columns if c not in META]
        for row in df.to_dict("records"):
            if isinstance(row.get("error"), str) or row.get("model") is None or (
                    isinstance(row.get("model"), float) and math.isnan(row["model"])):
                continue
            out.append({"task": row["task"], "model": row["model"], "k": int(row["k"]), "episode": int(row["episode"]),
                        "metrics": {c: float(row[c]) for c in cols if pd.notna(row[c])}})
    return out


def table(source: dict, models: list[str], shots: list[str], metric: str) -> str:
    lines = ["| model | " + " | ".join(f"k={k}" for k in shots) + " |", "|---" * (len(shots) + 1) + "|"]
    for m in models:
        cells = []
        for k in shots:
            c = source.get(m, {}).get(k, {}).get(metric)
            cells.append("-" if not c else f"{c['mean']:.3f} [{c['ci_low']:.3f}, {c['ci_high']:.3f}]")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("episodes", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    recs = records_of(args.episodes)
    family_of = {t.name: t.group for t in TASKS}
    fam = family_summary(recs, {t: family_of.get(t, t) for t in {r["task"] for r in recs}}, metrics=METRICS)
    old = summarize(recs, metrics=METRICS)
    models = list(dict.fromkeys(r["model"] for r in recs))
    shots = [str(k) for k in sorted({r["k"] for r in recs})]
    doc = {"inputs": [str(p) for p in args.episodes], "summary_old": old, "summary_families": fam["summary"],
           "families": fam["families"], "method": fam["method"], "n_boot": fam["n_boot"]}
    write_json(args.out / "results.json", doc, indent=1)
    md = ["## mean over tasks (old summary: t-interval over episode indices, tasks fixed)",
          table(old, models, shots, "smae"),
          "## family-weighted mean (bootstrap over families, tasks, episodes)",
          table(fam["summary"], models, shots, "smae")]
    for name, entry in fam["families"].items():
        md += [f"### family {name}: {', '.join(entry['tasks'])}", table(entry["results"], models, shots, "smae")]
    with atomic_write(args.out / "summary.md", "w") as fh:
        fh.write("\n\n".join(md) + "\n")
    with atomic_write(args.out / "COMMAND.txt", "w") as fh:
        fh.write("PYTHONPATH=. python benchmarks/fewshot_families.py " + " ".join(str(p) for p in args.episodes)
                 + f" --out {args.out}\n")
    print("\n\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
