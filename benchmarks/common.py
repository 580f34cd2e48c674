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


def ctime_binary() -> Path:
    BUILD.mkdir(parents=True, exist_ok=True)
    exe = BUILD / "ctime"
    src = HERE / "ctime.c"
    if not exe.exists() or exe.stat().st_mtime < src.stat().st_mtime:
        subprocess.run(["gcc", "-O2", "-o", str(exe), str(src), "-ldl"], check=True)
    return exe


def time_c(so: Path, symbol: str, X: np.ndarray, *, float_t: str = "float", calls: int = 20000,
           rnd: np.ndarray | None = None) -> float:
    """Best-of-5 ns per single-row call of ``symbol`` cycling over the rows of X."""
    dt = np.float64 if float_t == "double" else np.float32
    data = np.asarray(X, dtype=dt)
    if rnd is not None:
        data = np.concatenate([data, np.asarray(rnd, dtype=dt)], axis=1)
    BUILD.mkdir(parents=True, exist_ok=True)
    rows = BUILD / f"rows_{symbol}_{os.getpid()}.bin"
    np.ascontiguousarray(data).tofile(rows)
    res = subprocess.run([str(ctime_binary()), str(so), symbol, str(rows), str(len(data)), str(calls),
                          float_t], capture_output=True, text=True, check=True)
    rows.unlink()
    return float(res.stdout.strip())


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
