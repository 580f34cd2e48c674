"""Run every benchmark case in one go, print one table and write RESULTS.md.

    python -m benchmarks [--only trees,keras,generative] [--out benchmarks/RESULTS.md]

A full run rewrites RESULTS.md; an ``--only`` run prints its table and writes a file
only when ``--out`` names one (its rows go into RESULTS.md's section by hand).

Each ``benchmarks/bench_*.py`` module exposes ``run() -> list[dict]`` with
keys ``model``, ``tool``, ``ns_per_call`` and optional ``notes``, ``c_bytes``,
``compile_s``, ``floor_ratio``.
"""
from __future__ import annotations

import argparse
import importlib
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

from .common import HERE, fmt_ns, machine

PACKAGES = ["scikinc", "numpy", "scikit-learn", "keras", "tensorflow-cpu", "onnxruntime", "skl2onnx",
            "tf2onnx", "tl2cgen", "treelite", "m2cgen", "xgboost", "lightgbm", "catboost", "onnxmltools", "lleaves",
            "llvmlite"]


def versions() -> str:
    parts = [f"Python {platform.python_version()}"]
    gcc = subprocess.run(["gcc", "-dumpfullversion"], capture_output=True, text=True).stdout.strip()
    parts.append(f"gcc {gcc}")
    for p in PACKAGES:
        try:
            parts.append(f"{p} {metadata.version(p)}")
        except metadata.PackageNotFoundError:
            pass
    return ", ".join(parts)


def modules() -> list[str]:
    return sorted(p.stem[len("bench_"):] for p in HERE.glob("bench_*.py"))


def table(rows: list[dict]) -> str:
    head = "| model | tool | per call | vs scikinc | notes |\n|---|---|---|---|---|"
    lines = [head]
    best: dict[str, float] = {}
    for r in rows:
        if str(r["tool"]).startswith("scikinc") and r["ns_per_call"] == r["ns_per_call"]:
            best.setdefault(r["model"], r["ns_per_call"])
    for r in rows:
        ns = r["ns_per_call"]
        ref = best.get(r["model"])
        ratio = f"{ns / ref:.1f}×" if ref and ns == ns and not str(r["tool"]).startswith("scikinc") else ""
        notes = [str(r.get("notes", "") or "")]
        if r.get("c_bytes"):
            notes.append(f"C {r['c_bytes'] / 1e3:.0f} kB")
        if r.get("compile_s"):
            notes.append(f"compile {r['compile_s']:.1f} s")
        if r.get("floor_ratio"):
            notes.append(f"{r['floor_ratio']:.2f}× L2 floor")
        notes = "; ".join(n for n in notes if n).replace("|", "/")
        lines.append(f"| {r['model']} | {r['tool']} | {fmt_ns(ns)} | {ratio} | {notes} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks")
    ap.add_argument("--only", default=None, help=f"comma-separated subset of {modules()}")
    ap.add_argument("--out", default=None, help="file to write (default: RESULTS.md for a full run, none with --only)")
    args = ap.parse_args(argv)
    names = modules() if not args.only else args.only.split(",")
    rows, t0 = [], time.time()
    for name in names:
        print(f"[benchmarks] {name} ...", file=sys.stderr, flush=True)
        mod = importlib.import_module(f"benchmarks.bench_{name}")
        rows.extend(mod.run())
    text = (f"# scikinc benchmarks\n\nMachine: {machine()}  \nVersions: {versions()}  \n"
            f"Single-row latency; C rows are timed from a C harness through dlopen (best of 5), Python rows "
            f"from Python on one row.  'vs scikinc' = that tool's time / scikinc's default build.  "
            f"Run: `python -m benchmarks` ({time.time() - t0:.0f} s).\n\n{table(rows)}\n")
    print(text)
    out = args.out or (None if args.only else str(HERE / "RESULTS.md"))
    if out:
        Path(out).write_text(text)
        print(f"written to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
