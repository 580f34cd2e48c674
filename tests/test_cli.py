"""The scikinC command, run as a subprocess: conversion, compile, header,
file formats, and every error with its message and exit code."""
import os
import pickle
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from util import compile_strict

import scikinc

ROOT = Path(__file__).resolve().parent.parent


def run(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    return subprocess.run([sys.executable, "-m", "scikinc", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, env=env)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    X = np.random.default_rng(0).normal(size=(300, 4)) * 5 + 2
    ss, mm = StandardScaler().fit(X), MinMaxScaler().fit(X)
    with open(d / "my-scaler.pkl", "wb") as f:
        pickle.dump(ss, f)
    joblib.dump(mm, d / "mm.joblib")
    (d / "corrupt.pkl").write_bytes(b"\x80\x04this is not a pickle")
    with open(d / "unfitted.pkl", "wb") as f:
        pickle.dump(StandardScaler(), f)
    with open(d / "dict.pkl", "wb") as f:
        pickle.dump({"a": 1}, f)
    import skops.io as sio

    sio.dump(ss, d / "ss.skops")
    bad = StandardScaler().fit(X)
    bad.scale_ = bad.scale_[:2]  # a corrupt model: 2 scales for 4 inputs
    with open(d / "badattr.pkl", "wb") as f:
        pickle.dump(bad, f)
    np.save(d / "X.npy", X)
    np.save(d / "strings.npy", np.array([["a", "b", "c", "d"]]))
    (d / "empty.csv").write_text("")
    return d, X, ss, mm


def test_convert_to_stdout_compiles_and_matches(files, tmp_path):
    d, X, ss, mm = files
    r = run(d / "my-scaler.pkl", f"minmax={d / 'mm.joblib'}", "--float_t", "double")
    assert r.returncode == 0, r.stderr
    assert "my_scaler(" in r.stdout and "minmax(" in r.stdout  # stem sanitised; name= override
    compile_strict(r.stdout, tmp_path)
    so = scikinc.compile(r.stdout, tmp_path / "cli.so")
    np.testing.assert_allclose(scikinc.load(so, "my_scaler")(X), ss.transform(X), rtol=1e-12)
    np.testing.assert_allclose(scikinc.load(so, "minmax")(X), mm.transform(X), rtol=1e-12, atol=1e-15)


def test_original_flags_output_file_header_copyright(files, tmp_path):
    d, X, ss, mm = files
    out, hdr = tmp_path / "m.C", tmp_path / "m.h"
    r = run("-f", "double", "-c", "(c) 2026 LHCb\nMIT licence", "-o", out, "--header", hdr,
            d / "my-scaler.pkl", d / "mm.joblib")
    assert r.returncode == 0, r.stderr
    src = out.read_text()
    assert " * (c) 2026 LHCb" in src and " * MIT licence" in src
    h = hdr.read_text()
    assert "double *my_scaler(" in h.replace("FLOAT_T", "double") and "mm_n_inputs" in h
    # the header compiles together with a user program that uses the prototypes
    user = tmp_path / "user.c"
    user.write_text(f'#include "{hdr}"\nint use(double *o, const double *i)'
                    "{ mm(o, i); return my_scaler_n_inputs + mm_inverse_n_outputs; }\n")
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-c", user, "-o", tmp_path / "u.o"],
                   check=True)
    for flag in ("-v", "--version"):
        r = run(flag)
        assert r.returncode == 0 and scikinc.__version__ in r.stdout


def test_deterministic_output(files):
    d, *_ = files
    a = run(d / "my-scaler.pkl", d / "mm.joblib").stdout
    b = run(d / "my-scaler.pkl", d / "mm.joblib").stdout
    assert a == b and a


def test_compile_subcommand(files, tmp_path):
    d, X, ss, mm = files
    so = tmp_path / "sub" / "both.so"
    r = run("compile", f"s={d / 'ss.skops'}", d / "mm.joblib", "-o", so, "--reproducible")
    assert r.returncode == 0, r.stderr
    f = scikinc.load(so, "s")
    np.testing.assert_allclose(f(X), ss.transform(X), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(scikinc.load(so, "mm")(X), mm.transform(X), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("args,message", [
    (["missing.pkl"], "no such file"),
    (["corrupt.pkl"], "cannot read the model"),
    (["unfitted.pkl"], "is not fitted"),
    (["dict.pkl"], "Supported classes: "),
    (["model.dat"], "unknown model file type"),
    (["model.txt"], "not a LightGBM model file"),
    (["9bad=mm.joblib"], "invalid symbol name '9bad'"),
    (["exp=mm.joblib"], "invalid symbol name 'exp'"),
    (["std=mm.joblib"], "invalid symbol name 'std'"),
    (["gamma=mm.joblib"], "invalid symbol name 'gamma'"),  # glibc declares gamma(), j0(), y1()...
    (["a-b=mm.joblib"], "invalid symbol name 'a-b'"),
    (["x=mm.joblib", "x=my-scaler.pkl"], "duplicate symbol 'x'"),
    (["x_inverse=mm.joblib", "x=my-scaler.pkl"], "duplicate symbol 'x_inverse'"),
    (["--option", "novalue", "mm.joblib"], "--option needs KEY=VALUE"),
    (["--option", "=x", "mm.joblib"], "the key before '=' is empty"),
    (["--option", "outptu=1", "mm.joblib"], "option 'outptu' is not read by any converter (misspelt?)"),
    (["badattr.pkl"], "StandardScaler: div: expected 4 values, got 2"),
    (["-o", "my-scaler.pkl/x.c", "mm.joblib"], "my-scaler.pkl/x.c: cannot write (Not a directory)"),
    (["--header", "my-scaler.pkl/x.h", "mm.joblib"], "my-scaler.pkl/x.h: cannot write (Not a directory)"),
    (["compile", "mm.joblib", "-o", "my-scaler.pkl/x.so"], "cannot write"),
    (["compile", "mm.joblib", "-o", "m.c"], "m.c: name the shared object"),
    (["compile", "mm.joblib", "--flags", "'-O2"], "No closing quotation"),
    (["compile", "mm.joblib", "--cc", "no-such-cc"], "compiler not found: 'no-such-cc'"),
    (["validate", "mm.joblib", "--data", "strings.npy"], "strings.npy: cannot read data"),
    (["validate", "mm.joblib", "--data", "empty.csv"], "empty.csv: expected a non-empty table of rows"),
    (["validate", "mm.joblib", "--data", "X.npy", "--plot", "my-scaler.pkl/p.png"], "cannot write the plot"),
    (["validate", "mm.joblib", "--data", "X.npy", "--so", "my-scaler.pkl"], "cannot load shared object"),
])
def test_errors(files, args, message):
    d, *_ = files
    (d / "model.txt").write_text("hello")
    (d / "model.dat").write_text("hello")
    r = run(*args, cwd=d)
    assert r.returncode != 0
    assert message in r.stderr, r.stderr
    assert r.stderr.startswith("scikinC: error:") and "Traceback" not in r.stderr
    assert len(r.stderr.splitlines()) == 1, r.stderr  # one line (compiler diagnostics aside)
    assert r.stdout == ""


def test_traceback_on_request(files):
    """SCIKINC_TRACEBACK=1 shows where an error comes from (for bug reports)."""
    d, *_ = files
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), SCIKINC_TRACEBACK="1")
    r = subprocess.run([sys.executable, "-m", "scikinc", "badattr.pkl"], capture_output=True, text=True, cwd=d,
                       env=env)
    assert r.returncode != 0 and "Traceback" in r.stderr and "ConversionError" in r.stderr


def test_unsupported_message_names_class(files):
    d, *_ = files
    r = run("dict.pkl", cwd=d)
    assert "builtins.dict" in r.stderr and "StandardScaler" in r.stderr and "MinMaxScaler" in r.stderr


def test_untrusted_skops_refused(tmp_path):
    import skops.io as sio
    from util import CustomScaler

    sio.dump(CustomScaler().fit(np.ones((3, 2))), tmp_path / "c.skops")
    r = run(tmp_path / "c.skops")
    assert r.returncode != 0 and "refusing to load untrusted types" in r.stderr and "--trust" in r.stderr
    assert "util.CustomScaler" in r.stderr


def test_compiler_failure_is_reported(files, tmp_path):
    d, *_ = files
    r = run("compile", d / "mm.joblib", "-o", tmp_path / "x.so", "--flags", "-O2 -fthis-flag-does-not-exist")
    assert r.returncode != 0
    assert "compilation failed" in r.stderr and "fthis-flag-does-not-exist" in r.stderr


def test_bad_float_t_and_usage():
    r = run("--float_t", "half", "x.pkl")
    assert r.returncode == 2 and "invalid choice" in r.stderr
    r = run()
    assert r.returncode == 2 and "required" in r.stderr


def test_bin_launcher(files):
    d, *_ = files
    r = subprocess.run([sys.executable, str(ROOT / "bin" / "scikinC"), d / "mm.joblib"], capture_output=True,
                       text=True)
    assert r.returncode == 0 and "mm_inverse(" in r.stdout


@pytest.mark.parametrize("module", ["scikinc", "scikinc.cli"])
def test_runs_as_module_without_warnings(module):
    # scikinc imports its validate subcommand at import time: that must not import
    # scikinc.cli (runpy then warns that the module was found in sys.modules)
    res = subprocess.run([sys.executable, "-W", "error", "-m", module, "--version"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("scikinC") and not res.stderr, (res.stdout, res.stderr)
