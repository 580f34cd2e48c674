"""Shared benchmark helpers: time a compiled symbol from C, a Python
callable on one row, and print/collect table rows."""
from __future__ import annotations

import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
BUILD = Path(os.environ.get("SCIKINC_BENCH_DIR", tempfile.gettempdir())) / "scikinc-bench"


def c_harness(stem: str) -> Path:
    """``benchmarks/<stem>.c`` built into BUILD (rebuilt when it or ctime.h changed)."""
    BUILD.mkdir(parents=True, exist_ok=True)
    exe = BUILD / stem
    src = HERE / f"{stem}.c"
    newest = max(src.stat().st_mtime, (HERE / "ctime.h").stat().st_mtime)
    if not exe.exists() or exe.stat().st_mtime < newest:
        subprocess.run(["gcc", "-O2", "-o", str(exe), str(src), "-ldl", "-lm"], check=True)
    return exe


def ctime_binary() -> Path:
    return c_harness("ctime")


def _rows_file(X, float_t, rnd, tag) -> Path:
    dt = np.float64 if float_t == "double" else np.float32
    data = np.asarray(X, dtype=dt)
    if rnd is not None:
        data = np.concatenate([data, np.asarray(rnd, dtype=dt)], axis=1)
    BUILD.mkdir(parents=True, exist_ok=True)
    rows = BUILD / f"rows_{tag}_{os.getpid()}.bin"
    np.ascontiguousarray(data).tofile(rows)
    return rows


def _ctime(so, symbol, rows: Path, n_rows: int, calls: int, float_t: str, reps: int) -> float:
    res = subprocess.run([str(ctime_binary()), str(so), symbol, str(rows), str(n_rows), str(calls), float_t,
                          str(reps)], capture_output=True, text=True, check=True)
    return float(res.stdout.strip())


def time_c(so: Path, symbol: str, X: np.ndarray, *, float_t: str = "float", calls: int = 20000,
           rnd: np.ndarray | None = None, reps: int = 5) -> float:
    """ns per single-row call of ``symbol`` cycling over the rows of X: best
    slice of 1000 calls among ``reps * calls`` timed calls, after an untimed
    warm-up (see ctime.c)."""
    rows = _rows_file(X, float_t, rnd, symbol)
    try:
        return _ctime(so, symbol, rows, len(X), calls, float_t, reps)
    finally:
        rows.unlink()


def time_c_interleaved(jobs: dict, X: np.ndarray, *, rounds: int = 3, float_t: str = "float", calls: int = 20000,
                       rnd: np.ndarray | None = None, reps: int = 5, log=None) -> dict:
    """``{key: ns}`` for ``jobs = {key: (so, symbol)}``: ``rounds`` passes
    over all the jobs, each timed as :func:`time_c`, best per job.

    On a shared machine (VMs, SMT siblings) the speed of a core changes in
    phases of milliseconds to seconds (the same .so, same instructions,
    alternates between ~400 and ~700 ns per call on the 2-core EPYC VM: the
    instructions per cycle drop); timing each variant in one block lets a
    slow phase land on one of them (RESULTS.md had identical code at 636 and
    364 ns).  Interleaving spreads every variant over the same phases and the
    minimum keeps the quiet ones."""
    rows = _rows_file(X, float_t, rnd, "jobs")
    best = {k: float("inf") for k in jobs}
    try:
        for r in range(rounds):
            for k, (so, symbol) in jobs.items():
                best[k] = min(best[k], _ctime(so, symbol, rows, len(X), calls, float_t, reps))
                if log:
                    log(f"round {r}", k, best[k])
    finally:
        rows.unlink()
    return best


def time_py(fn, *args, min_time: float = 0.3, max_calls: int = 100000) -> float:
    """Best-of-3 ns per call of ``fn(*args)`` (one row)."""
    fn(*args)
    best = float("inf")
    for _ in range(3):
        n, t0 = 0, time.perf_counter()
        while True:
            fn(*args)
            n += 1
            el = time.perf_counter() - t0
            if el > min_time / 3 or n >= max_calls:
                break
        best = min(best, el / n * 1e9)
    return best


def machine() -> str:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}"


def fmt_ns(ns: float | None) -> str:
    if ns is None or not np.isfinite(ns):
        return "n/a"
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.0f} ns"


def print_rows(title: str, rows: list[dict]) -> None:
    """A bench module's rows as plain text (``python -m benchmarks.bench_NAME``)."""
    print(title)
    w = max(len(r["model"]) + len(r["tool"]) for r in rows) + 3
    for r in rows:
        print(f"{r['model'] + ' | ' + r['tool']:<{w}}  {fmt_ns(r['ns_per_call']):>10}  {r['notes']}")
