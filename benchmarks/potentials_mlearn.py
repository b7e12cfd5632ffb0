"""Accuracy on the mlearn benchmark (Zuo et al., J. Phys. Chem. A 124, 731 (2020)) beside GAP and MTP.

    nohup python benchmarks/potentials_mlearn.py Si Li [--threads 2] > mlearn.log 2>&1 &

For each element: train with default TrainSettings on `<El>_training`, test on `<El>_test`, and write
benchmarks/results/potentials_mlearn/<El>/{model/, metrics.json, parity.png, history.json}; the summary of
every element run so far goes to benchmarks/results/potentials_mlearn.{json,png}.
Targets: force MAE <= 1.5x and energy MAE <= 2x the better of GAP and MTP.

    python benchmarks/potentials_mlearn.py --finetune Cu:Ni [--sizes 10,20,50]

Few-frame learning curve: N random training frames of DST, fine-tuned from the saved SRC potential vs
trained from scratch (same epochs), tested on DST's test set -> potentials_finetune.{json,png}.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
DATA = Path(os.environ.get("METAMAT_SHARED", "/work/shared")) / "data" / "mlearn_mlip"
# Published test errors: energy MAE (meV/atom), force MAE (eV/Å)
PUBLISHED = {
    "GAP": {"Ni": (0.42, 0.02), "Cu": (0.46, 0.01), "Li": (0.49, 0.01), "Si": (2.91, 0.07)},
    "MTP": {"Ni": (0.48, 0.01), "Cu": (0.41, 0.01), "Li": (0.49, 0.01), "Si": (2.21, 0.06)},
}


def run_element(el: str, settings_override: dict) -> dict:
    from metamat.data.frames import read_frames
    from metamat.files import write_json
    from metamat.potentials import TrainSettings, save_potential, test_potential, train_potential, write_test_report

    train = read_frames(DATA / f"{el}_training.extxyz.gz")
    test = read_frames(DATA / f"{el}_test.extxyz.gz")
    settings = TrainSettings.from_dict({**TrainSettings().to_dict(), **settings_override})
    t0 = time.perf_counter()
    model = train_potential(train, settings=settings, progress=True)
    train_s = time.perf_counter() - t0
    out = RESULTS / "potentials_mlearn" / el
    save_potential(model, out / "model")
    metrics, preds = test_potential(model, test, return_predictions=True)
    write_test_report(metrics, preds, out)
    write_json(out / "history.json", model.history)
    best_e = min(PUBLISHED[m][el][0] for m in PUBLISHED)
    best_f = min(PUBLISHED[m][el][1] for m in PUBLISHED)
    return {
        "element": el, "train_frames": len(train), "train_atoms": sum(len(a) for a in train),
        "test_frames": len(test), "test_atoms": sum(len(a) for a in test), **metrics,
        "train_metrics": test_potential(model, train),
        "training_time_s": train_s, "precompute_s": model.train_info["precompute_s"],
        "epochs": model.train_info["epochs"], "stop_reason": model.train_info["stop_reason"],
        "threads": torch.get_num_threads(),
        "published": {m: {"energy_mae_mev_per_atom": PUBLISHED[m][el][0],
                          "force_mae_ev_per_angstrom": PUBLISHED[m][el][1]} for m in PUBLISHED},
        "energy_ratio_to_best": metrics["energy_mae_mev_per_atom"] / best_e,
        "force_ratio_to_best": metrics["force_mae_ev_per_angstrom"] / best_f,
        "meets_energy_target_2x": metrics["energy_mae_mev_per_atom"] <= 2 * best_e,
        "meets_force_target_1p5x": metrics["force_mae_ev_per_angstrom"] <= 1.5 * best_f,
        "settings": settings.to_dict(),
    }


def plot(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from metamat.potentials.evaluation import save_figure

    els = [e for e in ("Ni", "Cu", "Li", "Si") if e in summary]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    x = np.arange(len(els))
    for ax, key, k, label in ((axes[0], "energy_mae_mev_per_atom", 0, "energy MAE (meV/atom)"),
                              (axes[1], "force_mae_ev_per_angstrom", 1, "force MAE (eV/Å)")):
        ax.bar(x - 0.27, [PUBLISHED["GAP"][e][k] for e in els], 0.27, label="GAP (published)")
        ax.bar(x, [PUBLISHED["MTP"][e][k] for e in els], 0.27, label="MTP (published)")
        ax.bar(x + 0.27, [summary[e][key] for e in els], 0.27, label="metamat ACSF-NN")
        ax.set_xticks(x, els)
        ax.set_ylabel(label)
        ax.set_yscale("log")
    axes[0].legend(fontsize=8)
    fig.suptitle("mlearn test set")
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


FINETUNE = {"lr": 1e-3, "max_epochs": 300, "patience": 100}
SCRATCH = {"max_epochs": 300, "patience": 100}


def finetune_curve(src: str, dst: str, sizes: list[int], seed: int = 0) -> dict:
    import numpy as np

    from metamat.data.frames import read_frames
    from metamat.potentials import TrainSettings, load_potential, test_potential, train_potential

    source = load_potential(RESULTS / "potentials_mlearn" / src / "model")
    pool = read_frames(DATA / f"{dst}_training.extxyz.gz")
    test = read_frames(DATA / f"{dst}_test.extxyz.gz")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(pool))
    base = TrainSettings().to_dict()
    rows = []
    for n in sizes:
        frames = [pool[i] for i in order[:n]]
        for mode, over in (("fine-tuned", FINETUNE), ("scratch", SCRATCH)):
            settings = TrainSettings.from_dict({**base, **over, "seed": seed})
            t0 = time.perf_counter()
            kw = {"init_from": source, "element_map": {dst: src}} if mode == "fine-tuned" else {}
            model = train_potential(frames, settings=settings, progress=False, **kw)
            metrics = {f"test_{k}" if k.startswith("n_") else k: v for k, v in test_potential(model, test).items()}
            rows.append({"n_frames": n, "mode": mode, "train_s": time.perf_counter() - t0,
                         "epochs": model.train_info["epochs"], **metrics})
            print(rows[-1], flush=True)
    return {"source": src, "target": dst, "seed": seed, "settings": {"fine-tuned": FINETUNE, "scratch": SCRATCH},
            "rows": rows}


def plot_curve(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from metamat.potentials.evaluation import save_figure

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.8))
    for ax, key, label in ((axes[0], "energy_mae_mev_per_atom", "energy MAE (meV/atom)"),
                           (axes[1], "force_mae_ev_per_angstrom", "force MAE (eV/Å)")):
        for mode in ("fine-tuned", "scratch"):
            rows = [r for r in result["rows"] if r["mode"] == mode]
            ax.plot([r["n_frames"] for r in rows], [r[key] for r in rows], "o-", label=mode)
        ax.set_xlabel(f"{result['target']} training frames")
        ax.set_ylabel(label)
        ax.set_xscale("log")
        ax.set_yscale("log")
    axes[0].legend(title=f"from {result['source']}")
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("elements", nargs="*", default=["Si", "Li"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--settings", default="{}", help="JSON overriding TrainSettings fields")
    ap.add_argument("--finetune", metavar="SRC:DST", help="few-frame learning curve instead of the benchmark")
    ap.add_argument("--sizes", default="10,20,50")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from metamat.files import write_json

    if args.finetune:
        src, dst = args.finetune.split(":")
        result = finetune_curve(src, dst, [int(x) for x in args.sizes.split(",")])
        write_json(RESULTS / "potentials_finetune.json", result)
        plot_curve(result, RESULTS / "potentials_finetune.png")
        return

    summary_path = RESULTS / "potentials_mlearn.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    for el in args.elements:
        summary[el] = run_element(el, json.loads(args.settings))
        res = summary[el]
        print(f"{el}: E MAE {res['energy_mae_mev_per_atom']:.2f} meV/atom, F MAE "
              f"{res['force_mae_ev_per_angstrom']:.4f} eV/Å, trained in {res['training_time_s']:.0f} s", flush=True)
        write_json(summary_path, summary)
        plot(summary, RESULTS / "potentials_mlearn.png")


if __name__ == "__main__":
    main()
