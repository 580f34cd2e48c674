"""The AddressSanitizer + UBSan run (.ci/sanitize) catches planted bugs and
passes on generated code.

The full run over every converter's tests is `.ci/sanitize` (CI); here we check
that the machinery works: each planted bug in tests/sanitize_canary.py makes
the run fail with the right report, and real generated code runs clean.
"""
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / ".ci" / "sanitize"

pytestmark = pytest.mark.sanitize


def _have_asan() -> bool:
    if shutil.which("gcc") is None:
        return False
    lib = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True, text=True).stdout.strip()
    return Path(lib).exists()


needs_asan = pytest.mark.skipif(not _have_asan(), reason="gcc's libasan is not installed")


def _sanitize(*args, timeout=600):
    return subprocess.run([str(SCRIPT), *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


@needs_asan
@pytest.mark.parametrize("test,report", [
    ("test_global_out_of_bounds", "AddressSanitizer: global-buffer-overflow"),
    ("test_stack_out_of_bounds", "AddressSanitizer: stack-buffer-overflow"),
    ("test_array_index_out_of_bounds", "runtime error: index 4 out of bounds"),
    ("test_signed_overflow", "runtime error: signed integer overflow"),
])
def test_planted_bug_fails_the_run(test, report):
    res = _sanitize(f"tests/sanitize_canary.py::{test}")
    out = res.stdout + res.stderr
    assert res.returncode != 0, out
    assert report in out, out
    assert "sanitize: FAILED" in out


@needs_asan
@pytest.mark.parametrize("test,report", [
    ("test_global_out_of_bounds", "AddressSanitizer: global-buffer-overflow"),
    ("test_signed_overflow", "runtime error: signed integer overflow"),
])
def test_planted_bug_fails_the_run_under_xdist(test, report):
    """CI runs the suite in pytest-xdist workers: their reports reach the log too."""
    res = _sanitize("-n", "2", "--dist", "loadfile", f"tests/sanitize_canary.py::{test}",
                    "tests/sanitize_canary.py::test_clean")
    out = res.stdout + res.stderr
    assert res.returncode != 0, out
    assert report in out, out
    assert "sanitize: FAILED" in out


@needs_asan
def test_clean_code_passes():
    """Real generated code (the IR ops incl. aliasing out == in, a scaler)
    under ASan + UBSan: no report.  (.ci/sanitize without arguments covers
    every converter.)"""
    res = _sanitize("tests/sanitize_canary.py::test_clean", "tests/test_ir.py::test_out_may_alias_in",
                    "tests/test_ir.py::test_activations_and_binary_ops",
                    "tests/test_scalers.py::test_minmax_clip_clamps_out_of_range")
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-5000:]
    assert "sanitize: OK, no sanitizer report" in out


@needs_asan
def test_runtime_itself_under_asan(tmp_path):
    """scikinc-run (config parser, column gathers, noise, CSV) built with
    ASan + UBSan runs a pipeline, replays noise and reports config errors
    without a sanitizer report."""
    import numpy as np
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    import scikinc

    res = subprocess.run(["make", "-C", str(ROOT / "runtime"), "asan"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-3000:]
    exe = ROOT / "runtime" / "build" / "scikinc-run-asan"
    X = np.random.default_rng(0).normal(size=(50, 3))
    scikinc.compile({"ss": StandardScaler().fit(X), "mm": MinMaxScaler().fit(X)}, tmp_path / "s.so")
    np.savetxt(tmp_path / "x.csv", X, delimiter=",")
    (tmp_path / "p.cfg").write_text("input x 3\nmodel a s.so ss\nmodel b s.so mm a[0:2] x[-1]\n"
                                    "noise z 2\nconcat c b z a[1:]\noutput c x[0,2]\n")
    (tmp_path / "bad.cfg").write_text("input x 3\nmodel a s.so ss x[0:2]\n")
    env = {"ASAN_OPTIONS": "detect_leaks=1", "UBSAN_OPTIONS": "halt_on_error=1", "PATH": "/usr/bin:/bin"}
    runs = [(["--pipeline", "p.cfg", "--dump-noise", "n.csv", "x.csv"], 0),
            (["--pipeline", "p.cfg", "--rnd", "n.csv", "x.csv"], 0),
            (["--so", "s.so", "--symbol", "ss_inverse", "--bench", "1000", "x.csv"], 0),
            (["--pipeline", "bad.cfg", "x.csv"], 1),
            (["--so", "s.so", "--symbol", "nope", "x.csv"], 1)]
    for args, rc in runs:
        res = subprocess.run([str(exe), *args], cwd=tmp_path, capture_output=True, text=True, env=env)
        assert res.returncode == rc, (args, res.stderr[-3000:])
        assert "Sanitizer" not in res.stderr and "runtime error" not in res.stderr, res.stderr[-3000:]
