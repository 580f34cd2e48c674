"""Python API: convert() input forms, load() checks, and a C host program
that dlopens the library (compiled with -Werror as C and as C++)."""
import copy
import pickle
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from util import same_bits

import scikinc

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def fitted():
    X = np.random.default_rng(0).normal(size=(400, 3)) * [1, 5, 50] + [0, 1, -20]
    return X, StandardScaler().fit(X), MinMaxScaler(feature_range=(-1, 1)).fit(X)


def test_convert_accepts_object_dict_list_and_paths(fitted, tmp_path):
    X, ss, mm = fitted
    p = tmp_path / "scaler-v1.pkl"
    p.write_bytes(pickle.dumps(ss))
    assert "FLOAT_T *standardscaler(" in scikinc.convert(ss)  # default name: class
    assert "FLOAT_T *s(" in scikinc.convert(ss, name="s")
    src = scikinc.convert([str(p), f"named={p}", mm])
    for sym in ("scaler_v1(", "named(", "minmaxscaler("):
        assert f"FLOAT_T *{sym}" in src
    assert scikinc.convert({"a": ss, "b": mm}) == scikinc.convert({"a": ss, "b": mm})
    with pytest.raises(scikinc.ConversionError, match="float_t must be one of"):
        scikinc.convert(ss, float_t="half")
    with pytest.raises(scikinc.InvalidSymbolError, match="duplicate symbol 'a'"):
        scikinc.convert([f"a={p}", f"a={p}"])
    with pytest.raises(scikinc.NotFittedError, match="not fitted"):
        scikinc.convert(StandardScaler())
    with pytest.raises(scikinc.UnsupportedModelError, match="builtins.object"):
        scikinc.convert(object())


def test_load_shapes_zero_copy_inverse(fitted, tmp_path):
    X, ss, mm = fitted
    so = scikinc.compile({"ss": ss, "mm": mm}, tmp_path / "m.so")
    f = scikinc.load(so, "ss")
    assert (f.n_inputs, f.n_outputs, f.float_t) == (3, 3, "float")
    assert "MLFunction" in repr(f)
    Xf = np.ascontiguousarray(X, dtype=np.float32)
    assert f._prepare(Xf, 3, "input")[0] is Xf  # right dtype and layout: no copy
    assert f._prepare(X, 3, "input")[0] is not X
    one = f(Xf[0])
    assert one.shape == (3,) and same_bits(one, f(Xf)[0])
    out = np.empty((len(Xf), 3), np.float32)
    assert f(Xf, out=out) is out
    np.testing.assert_allclose(f.inverse(f(X)), X.astype(np.float32), rtol=1e-5, atol=1e-4)
    assert f.inverse.inverse is None
    assert f(np.empty((0, 3))).shape == (0, 3)
    for bad in (np.ones(4), np.ones((2, 2)), np.ones((1, 1, 3)), 5.0):
        with pytest.raises(ValueError, match=r"must have shape \(3,\) or \(n_rows, 3\)"):
            f(bad)
    with pytest.raises(ValueError, match="takes no noise"):
        f(X, np.ones((len(X), 2)))
    with pytest.raises(scikinc.LoadError, match="not a scikinc model"):
        scikinc.load(so, "nope")
    with pytest.raises(scikinc.LoadError, match="no such shared object"):
        scikinc.load(tmp_path / "missing.so", "ss")
    (tmp_path / "junk.so").write_text("junk")
    with pytest.raises(scikinc.LoadError, match="cannot load shared object"):
        scikinc.load(tmp_path / "junk.so", "ss")


def test_compile_errors(fitted, tmp_path):
    X, ss, mm = fitted
    with pytest.raises(scikinc.CompileError, match="compilation failed") as e:
        scikinc.compile("int broken(\n", tmp_path / "b.so")
    assert "error" in e.value.stderr
    with pytest.raises(scikinc.CompileError, match="compiler not found"):
        scikinc.compile(ss, tmp_path / "c.so", cc="no-such-cc")


@pytest.mark.parametrize("compiler", ["gcc", "g++"])
def test_c_host_program(fitted, tmp_path, compiler):
    """The seed's host pattern: dlopen, dlsym by name, call; C and C++ host,
    library compiled by gcc and by g++ (the extern "C" guard)."""
    X, ss, mm = fitted
    so = scikinc.compile({"prep": mm, "stdz": ss}, tmp_path / "models.so", cc=compiler)
    host = tmp_path / "host"
    lang = ["-x", "c++"] if compiler == "g++" else ["-std=c99"]
    subprocess.run([compiler, *lang, "-Wall", "-Wextra", "-Werror", "-o", host,
                    ROOT / "examples/quickstart/host.c", "-ldl"], check=True)
    f = scikinc.load(so, "prep")
    for row in X[:20]:
        xs = np.float32(row)
        r = subprocess.run([host, so, "prep", *[repr(float(v)) for v in xs]], capture_output=True, text=True,
                           check=True)
        lines = dict(line.split(":", 1) for line in r.stdout.splitlines())
        got = np.array(lines["prep"].split(), dtype=np.float32)
        assert same_bits(got, f(xs))  # C host and Python harness agree bit for bit
        np.testing.assert_allclose(got, mm.transform(xs[None].astype(float))[0], rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(np.array(lines["prep_inverse"].split(), dtype=float), xs, rtol=1e-5,
                                   atol=1e-5)
    r = subprocess.run([host, so, "missing", "1"], capture_output=True, text=True)
    assert r.returncode == 1 and "symbol missing not found" in r.stderr


def test_every_bad_call_is_a_scikinc_error(fitted, tmp_path):
    """Wrong arguments, corrupt models and bad rows raise ScikincError
    subclasses (with the matching built-in base) and one-line messages."""
    X, ss, mm = fitted
    bad = [
        (lambda: scikinc.convert([]), scikinc.ConversionError, "nothing to convert"),
        (lambda: scikinc.convert(ss, float_T="double"), scikinc.ConversionError,
         r"unexpected keyword argument\(s\) 'float_T'"),
        (lambda: scikinc.convert(ss, copyright=3), scikinc.ConversionError, "copyright must be a string"),
        (lambda: scikinc.convert(ss, float_t=["float"]), scikinc.ConversionError, "float_t must be one of"),
        (lambda: scikinc.header(ss, guard="a-b"), scikinc.ConversionError, "header guard must be a C identifier"),
        (lambda: scikinc.convert({"a": ss, "b": mm}, options="output=class"), scikinc.OptionError,
         "options must be a dict"),
        (lambda: scikinc.compile("int x;\nint y;\n", tmp_path / "r.so", float_t="double"), scikinc.ConversionError,
         r"conversion arguments \['float_t'\] given with ready C source"),
        (lambda: scikinc.compile(ss, tmp_path / "m.c"), scikinc.OutputError, "name the shared object"),
        (lambda: scikinc.compile(ss, tmp_path / "m.so", flags="-O2 '-g"), scikinc.CompileError,
         "No closing quotation"),
        (lambda: scikinc.compile(ss, tmp_path / "m.so", cc=""), scikinc.CompileError, "cc is empty"),
        (lambda: scikinc.load(tmp_path / "m.so", "not a name"), scikinc.LoadError, "is not a C identifier"),
    ]
    (tmp_path / "file").write_text("x")
    bad.append((lambda: scikinc.compile(ss, tmp_path / "file" / "m.so"), scikinc.OutputError, "cannot write"))
    # corrupt fitted attributes: the converter's (or the IR's) check, naming the class
    broken = copy.deepcopy(ss)
    broken.scale_ = broken.scale_[:2]
    bad.append((lambda: scikinc.convert(broken), scikinc.ConversionError,
                "StandardScaler: div: expected 3 values, got 2"))
    gone = copy.deepcopy(ss)
    del gone.mean_
    bad.append((lambda: scikinc.convert(gone), scikinc.ConversionError,
                r"StandardScaler: cannot convert \(AttributeError: 'StandardScaler' object has no attribute 'mean_'\)"))
    lr = LogisticRegression().fit(X, X[:, 0] > 0)
    lr.coef_ = lr.coef_[:, :2]
    bad.append((lambda: scikinc.convert(lr), scikinc.ConversionError,
                r"LogisticRegression: Dense: built for input widths \[2\], got \[3\]"))
    bad.append((lambda: scikinc.convert(Pipeline([("scale", StandardScaler().fit(X)), ("lr", lr)])),
                scikinc.ConversionError, r"Pipeline step 'lr': LogisticRegression: Dense"))
    # empty composites
    bad.append((lambda: scikinc.convert(Pipeline([("skip", "passthrough")]).fit(X)), scikinc.ConversionError,
                r"cannot tell the input width of Pipeline"))
    bad.append((lambda: scikinc.convert(ColumnTransformer([("gone", "drop", [0, 1, 2])]).fit(X)),
                scikinc.ConversionError, "every column is dropped"))
    bad.append((lambda: scikinc.validate({"a": ss, "b": mm}, X), scikinc.ConversionError,
                "validate takes one model, got 2"))
    bad.append((lambda: scikinc.validate(ss, X[:, :2]), scikinc.InputError,
                "the data has 2 columns but the model takes 3"))
    for call, cls, msg in bad:
        with pytest.raises(cls, match=msg) as e:
            call()
        assert "\n" not in str(e.value), str(e.value)
    with pytest.raises(scikinc.UnsupportedModelError) as e:
        scikinc.convert(object())
    assert "\n" not in str(e.value) and "Supported classes: " in str(e.value)
    # rows passed to a compiled model
    so = scikinc.compile({"ss": ss}, tmp_path / "ok.so", flags="-O2 -g")  # flags as one string
    f = scikinc.load(so, "ss")
    np.testing.assert_allclose(f(X), ss.transform(X), rtol=1e-5, atol=1e-5)
    for rows_, msg in ((np.array([["a", "b", "c"]]), "must hold real numbers"), ([[1, 2, 3], [1, 2]], "not an array"),
                       (np.ones((2, 3)) + 1j, "must hold real numbers"), (np.ones((2, 4)), "must have shape")):
        with pytest.raises(scikinc.InputError, match=msg):
            f(rows_)
    with pytest.raises(scikinc.InputError, match="out must be a C-contiguous"):
        f(X, out=[0.0] * 3)
    assert issubclass(scikinc.InputError, ValueError) and issubclass(scikinc.OutputError, OSError)


@pytest.mark.parametrize("cc, lang", [("g++", "c++"), ("env g++", "c++"), ("env LC_ALL=C g++ -m64", "c++"),
                                      ("gcc", "c"), ("env gcc", "c"), ("g++-12", "c++")])
def test_cc_with_launcher_compiles_in_its_language(fitted, tmp_path, cc, lang):
    """A launcher before the compiler (ccache, env, distcc) keeps the compiler's language: the
    word before the first option names it."""
    from scikinc.compiler import compiler_command

    cmd = compiler_command(tmp_path / "m.c", tmp_path / "m.so", cc=cc)
    assert cmd[cmd.index("-x") + 1] == lang
    binary = [w for w in cc.split() if not w.startswith("-") and "=" not in w][-1]
    if shutil.which(binary):
        X, ss, _ = fitted
        f = scikinc.load(scikinc.compile({"s": ss}, tmp_path / "m.so", cc=cc), "s")
        np.testing.assert_allclose(f(np.float32(X[:1000])), ss.transform(np.float32(X[:1000]).astype(float)),
                                   rtol=1e-6, atol=1e-6)
