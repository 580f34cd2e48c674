"""The architecture of ed17cf8/950d2db: one pass pipeline (StandardScaler +
Keras Dense gives the same C as StandardScaler + MLPRegressor), Keras layers
dispatched through the public registry (user converters for multi-input
layers, overriding a built-in one), op labels in the C, readable dense C, no
import cycles between scikinc's modules, one-line CLI errors under python -O."""
import ast
import os
import pickle
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from util import as_type, check_contract, compile_strict, rows, slow_except

import scikinc
from scikinc import registry
from scikinc.core import build_entries
from scikinc.errors import ConversionError
from scikinc.ir import Affine, Binary, Concat, Value

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


def _have_keras() -> bool:
    try:
        import importlib.util

        return importlib.util.find_spec("keras") is not None
    except (ImportError, ValueError):  # pragma: no cover
        return False


def close(got, want, tol):
    """|got - want| <= tol * (1 + |want|) elementwise."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64).reshape(np.shape(got))
    bad = ~(np.abs(got - want) <= tol * (1 + np.abs(want)))
    assert not bad.any(), (f"{bad.sum()} mismatches; first at {np.argwhere(bad)[0]}: "
                           f"got {got[tuple(np.argwhere(bad)[0])]!r}, want {want[tuple(np.argwhere(bad)[0])]!r}")


def unlabel(src: str, entries) -> str:
    """``src`` without the op labels: ``/* Dense+relu (m.dense_3) */`` ->
    ``/* Dense+relu */`` and ``sym__0_m_dense_3_W`` -> ``sym__0_W``."""
    from scikinc.render import _label

    out = re.sub(r"(/\* [^\n]*?) \([A-Za-z0-9_.]+\) \*/", r"\1 */", src)
    for e in entries:
        tags = {re.sub(r"[^A-Za-z0-9_]", "_", _label(op.label)) for op in e.graph.ops} - {""}
        for tag in sorted(tags, key=len, reverse=True):
            out = re.sub(rf"\b({re.escape(e.name)}__\d+)_{re.escape(tag)}(?=_)", r"\1", out)
    return out


# ---------------------------------------------------------------------------
# 1. Same maths, same C: StandardScaler + MLPRegressor == StandardScaler + Keras
# ---------------------------------------------------------------------------

def _scaler_mlp_pair(keras):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(600, 5)) * [1, 10, 100, 0.1, 3] + [0, 5, -3, 1, 40]
    y = X[:, 0] + np.sin(X[:, 1] / 10) + 0.01 * X[:, 2]
    mlp = Pipeline([("tX", StandardScaler()),
                    ("m", MLPRegressor(hidden_layer_sizes=(16,), activation="relu", max_iter=300,
                                       random_state=0))])
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlp.fit(X, y)
    m = mlp.named_steps["m"]
    # Keras holds float32 weights: give the MLP the same (float32-exact) numbers
    m.coefs_ = [np.float32(W).astype(np.float64) for W in m.coefs_]
    m.intercepts_ = [np.float32(b).astype(np.float64) for b in m.intercepts_]
    km = keras.Sequential([keras.Input((5,)), keras.layers.Dense(16, "relu"), keras.layers.Dense(1)])
    km.set_weights([m.coefs_[0], m.intercepts_[0], m.coefs_[1], m.intercepts_[1]])
    kp = Pipeline([("tX", mlp.named_steps["tX"]), ("m", km)])
    return X, mlp, kp


@pytest.mark.keras
@pytest.mark.parametrize("float_t", ["float", "double"])
def test_scaler_mlp_and_scaler_keras_same_c(keras, float_t):
    X, mlp, kp = _scaler_mlp_pair(keras)
    ea, eb = build_entries({"sym": mlp}, float_t=float_t), build_entries({"sym": kp}, float_t=float_t)
    for es in (ea, eb):
        ops = es[0].graph.ops
        assert [type(o).__name__ for o in ops] == ["Dense", "Dense"], [o.describe() for o in ops]
        assert [o.activation for o in ops] == ["relu", "linear"]
        assert not any(isinstance(o, Affine) for o in ops)
    a, b = scikinc.convert({"sym": mlp}, float_t=float_t), scikinc.convert({"sym": kp}, float_t=float_t)
    assert "Dense+relu (m)" in a and "(m.dense" in b  # labels differ: the MLP step vs the Keras layer
    assert a != b
    ua, ub = unlabel(a, ea), unlabel(b, eb)
    assert ua == ub
    assert "/* Dense+relu */" in ua and "Affine" not in ua and "Activation" not in ua


@pytest.mark.keras
def test_scaler_mlp_and_scaler_keras_outputs(keras, tmp_path):
    X, mlp, kp = _scaler_mlp_pair(keras)
    R = rows(X)
    assert len(R) >= 1000
    km = kp.named_steps["m"]
    for float_t, tol in (("float", 1e-4), ("double", 1e-9)):
        fns = check_contract({"mlp": mlp, "ker": kp}, tmp_path, float_t=float_t, X=R)
        Xt = as_type(R, float_t)
        got_m, got_k = fns["mlp"](Xt), fns["ker"](Xt)
        assert got_m.tobytes() == got_k.tobytes()  # same C, same bits
        close(got_m.reshape(-1), mlp.predict(Xt), tol)
        if float_t == "float":
            want = np.asarray(km(np.float32(kp.named_steps["tX"].transform(Xt)), training=False))
            close(got_k, want.reshape(got_k.shape), tol)


# ---------------------------------------------------------------------------
# 2. User converters: a multi-input custom layer; overriding a built-in layer
# ---------------------------------------------------------------------------

def _weighted_sum_class(keras):
    class WeightedSum(keras.layers.Layer):
        """a * w0 + b * w1 (two input tensors of the same shape)."""

        def build(self, input_shape):
            self.w = self.add_weight(shape=(2,), initializer="ones", name="w")

        def call(self, inputs):
            a, b = inputs
            return a * self.w[0] + b * self.w[1]

    return WeightedSum


def _two_branch_model(keras, WeightedSum, n_in=6, seed=1):
    keras.utils.set_random_seed(seed)
    L = keras.layers
    inp = keras.Input((n_in,))
    a = L.Dense(4, "tanh", name="branch_a")(inp)
    b = L.Dense(4, name="branch_b")(inp)
    ws = WeightedSum(name="wsum")
    s = ws([a, b])
    ws.set_weights([np.array([0.75, -1.25], np.float32)])
    out = L.Dense(2, name="head")(s)
    return keras.Model(inp, out)


def _krows(n_in, n=2000, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_in)) * 2
    X[n // 2:] *= 20
    X[0] = 0.0
    X[1] = 1e3
    X[2] = -1e3
    return X.astype(np.float32)


@pytest.mark.keras
def test_user_multi_input_layer(keras, tmp_path):
    WeightedSum = _weighted_sum_class(keras)
    seen = []

    @scikinc.register_converter(WeightedSum)
    def convert_weighted_sum(layer, g, x, ctx):
        seen.append([v.width for v in x])
        a, b = x
        w = np.asarray(layer.w.numpy(), dtype=np.float64)
        ya = g.add(Affine(a.width, mul=w[0]), a)
        yb = g.add(Affine(b.width, mul=w[1]), b)
        return g.add(Binary("add"), ya, yb)

    m = _two_branch_model(keras, WeightedSum)
    assert len(m.inputs) == 1
    X = _krows(6)
    f = check_contract({"wsum": m}, tmp_path, X=X)["wsum"]
    assert seen and all(s == [4, 4] for s in seen)
    want = np.asarray(m(X, training=False), dtype=np.float64)
    close(f(X), want, 1e-5)
    src = scikinc.convert({"wsum": m})
    assert "(wsum)" in src  # the user layer's ops carry its name


@pytest.mark.keras
def test_user_layer_converter_wrong_width(keras):
    WeightedSum = _weighted_sum_class(keras)

    @scikinc.register_converter(WeightedSum)
    def convert_concat(layer, g, x, ctx):
        return g.add(Concat(), *x)  # 8 values where Keras has 4

    m = _two_branch_model(keras, WeightedSum, seed=2)
    with pytest.raises(ConversionError, match=r"layer 'wsum'.*produced 8 values, Keras says \(None, 4\)"):
        scikinc.convert({"bad": m})


@pytest.mark.keras
def test_user_layer_converter_returns_no_value(keras):
    WeightedSum = _weighted_sum_class(keras)

    @scikinc.register_converter(WeightedSum)
    def convert_list(layer, g, x, ctx):
        return x  # the list of inputs, not a Value

    m = _two_branch_model(keras, WeightedSum, seed=3)
    with pytest.raises(ConversionError, match=r"layer 'wsum'.*returned list, not a scikinc.ir.Value"):
        scikinc.convert({"bad": m})


@pytest.mark.keras
def test_override_builtin_dense(keras, tmp_path):
    keras.utils.set_random_seed(4)
    L = keras.layers
    m = keras.Sequential([keras.Input((3,)), L.Dense(5, "relu", bias_initializer="random_normal"),
                          L.Dense(2, bias_initializer="random_normal")])
    X = _krows(3)
    e = registry.find_name("keras.layers.Dense")
    orig, orig_builtin = e.forward, e.builtin
    calls = []
    try:
        @scikinc.register_converter("keras.layers.Dense")
        def doubled_dense(layer, g, x, ctx):
            assert isinstance(x, Value)  # one input: a Value, not a list
            calls.append(layer.name)
            y = orig(layer, g, x, ctx)
            return g.add(Affine(y.width, mul=2.0, add=0.5), y)

        assert registry.find_name("keras.layers.Dense").forward is doubled_dense
        f = check_contract({"dbl": m}, tmp_path, X=X)["dbl"]
        assert set(calls) == {layer.name for layer in m.layers if type(layer).__name__ == "Dense"}
        W1, b1, W2, b2 = (np.asarray(w, np.float64) for w in m.get_weights())
        h = 2 * np.maximum(X.astype(np.float64) @ W1 + b1, 0) + 0.5
        want = 2 * (h @ W2 + b2) + 0.5
        close(f(X), want, 1e-5)
        # and it really differs from the built-in conversion
        assert np.abs(want - np.asarray(m(X, training=False))).max() > 1e-2
    finally:
        e.forward, e.builtin = orig, orig_builtin
    assert registry.find_name("keras.layers.Dense").forward is orig
    (tmp_path / "restored").mkdir()
    f = check_contract({"pos": m}, tmp_path / "restored", X=X)["pos"]
    close(f(X), np.asarray(m(X, training=False)), 1e-5)


# ---------------------------------------------------------------------------
# 3. Labels in the C
# ---------------------------------------------------------------------------

def _clf_data():
    return make_classification(600, 5, n_informative=3, random_state=0)


def test_labels_pipeline_steps(tmp_path):
    X, y = _clf_data()
    p = Pipeline([("tX", StandardScaler()),
                  ("clf", GradientBoostingClassifier(n_estimators=8, max_depth=2, random_state=0))]).fit(X, y)
    src = scikinc.convert({"gb": p})
    comments = re.findall(r"/\*.*?\*/", src, flags=re.S)
    tables = re.findall(r"\bgb__\d+_\w+", src)
    for step in ("tX", "clf"):
        assert any(f"({step})" in c for c in comments) or any(f"_{step}_" in t for t in tables), step
    compile_strict(src, tmp_path)
    R = rows(X)
    f = check_contract({"gb": p}, tmp_path, float_t="double", X=R)["gb"]
    close(f(R).reshape(-1), p.predict_proba(R)[:, 1], 1e-9)


@pytest.mark.parametrize("name", ["a*/b-c", "*/", "x/*y*/z", "tab\there", "é ü", "9lives", "s" * 200])
def test_labels_odd_step_names(tmp_path, name):
    X, y = _clf_data()
    p = Pipeline([(name, StandardScaler()),
                  ("clf", GradientBoostingClassifier(n_estimators=3, max_depth=2, random_state=0))]).fit(X, y)
    src = scikinc.convert({"odd": p})
    for c in re.findall(r"/\*.*?\*/", src, flags=re.S):
        assert "/*" not in c[2:], c  # no comment opened inside a comment
    assert src.count("/*") == src.count("*/")  # no comment closed early by the label
    labels = re.findall(r"/\* [A-Za-z]\S* \(([^)]*)\) \*/", src)
    assert labels and all(re.fullmatch(r"[A-Za-z0-9_.]+", lb) for lb in labels), labels
    tables = re.findall(r"\bodd__\d+\w*", src)
    assert tables and all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", t) for t in tables)
    compile_strict(src, tmp_path)
    R = rows(X)
    f = check_contract({"odd": p}, tmp_path, float_t="double", X=R)["odd"]
    close(f(R).reshape(-1), p.predict_proba(R)[:, 1], 1e-9)


@pytest.mark.keras
def test_labels_keras_layer_names(keras, tmp_path):
    L = keras.layers
    keras.utils.set_random_seed(5)
    inner = keras.Sequential([keras.Input((4,)), L.Dense(3, "relu", name="inner_hidden")], name="sub_net")
    inp = keras.Input((4,))
    h = L.Dense(4, name="first_layer")(inp)
    h = L.Activation("tanh", name="we*ird-name (1)")(h)
    out = L.Dense(1, name="output_layer")(inner(h))
    m = keras.Model(inp, out)
    src = scikinc.convert({"kl": m})
    for nm in ("first_layer", "output_layer", "sub_net.inner_hidden", "we_ird_name__1_"):
        assert nm in src, nm
    for c in re.findall(r"/\*.*?\*/", src, flags=re.S):
        assert "/*" not in c[2:], c
    compile_strict(src, tmp_path)
    X = _krows(4)
    f = check_contract({"kl": m}, tmp_path, X=X)["kl"]
    close(f(X), np.asarray(m(X, training=False)), 1e-5)


# ---------------------------------------------------------------------------
# 4. Readable C
# ---------------------------------------------------------------------------

UGLY = [r"\(size_t\)\(0\)", r"\[0 \+ ", r"for \(int \w+ = 0; \w+ < 1;"]


def _assert_readable(src: str, what: str):
    for pat in UGLY:
        m = re.search(pat, src)
        assert m is None, f"{what}: {pat!r} in the C:\n{src[max(0, m.start() - 300):m.end() + 100]}"


@pytest.mark.keras
@pytest.mark.parametrize("float_t", ["float", "double", "long double"])
def test_readable_dense_c(keras, tmp_path, float_t):
    L = keras.layers
    keras.utils.set_random_seed(6)
    models = {}
    for w in (1, 5, 64, 65, 129, 130):
        models[f"k{w}"] = keras.Sequential([keras.Input((7,)), L.Dense(w, "relu"), L.Dense(w), L.Dense(1)])
        models[f"r{w}"] = keras.Sequential([keras.Input((w,)), L.Dense(w, "leaky_relu"), L.Dense(3)])
    src = scikinc.convert(models, float_t=float_t)
    _assert_readable(src, f"Keras Dense ({float_t})")
    X = _krows(7, n=1000)
    fns = check_contract(models, tmp_path, float_t=float_t, X=None)
    for w in (1, 64, 130):
        close(fns[f"k{w}"](X), np.asarray(models[f"k{w}"](X, training=False)), 1e-4)


@pytest.mark.parametrize("float_t", ["float", "double", "long double"])
def test_readable_sklearn_c(float_t):
    rng = np.random.default_rng(7)
    X1 = rng.normal(size=(300, 1))
    X6 = rng.normal(size=(300, 6))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        models = {
            "mlp": MLPRegressor(hidden_layer_sizes=(130, 1, 5), max_iter=20, random_state=0).fit(X6, X6[:, 0]),
            "mlp1": MLPRegressor(hidden_layer_sizes=(1,), max_iter=20, random_state=0).fit(X1, X1[:, 0]),
            "sc1": StandardScaler().fit(X1),
            "sc6": StandardScaler().fit(X6),
            "pipe": Pipeline([("s", StandardScaler()),
                              ("m", MLPRegressor(hidden_layer_sizes=(64,), max_iter=20, random_state=0))]
                             ).fit(X6, X6[:, 1]),
        }
    _assert_readable(scikinc.convert(models, float_t=float_t), f"sklearn ({float_t})")
    _assert_readable(scikinc.convert(models, float_t=float_t, optimize=False), f"sklearn unoptimized ({float_t})")


# ---------------------------------------------------------------------------
# 5. No import cycles
# ---------------------------------------------------------------------------

def _modules() -> dict:
    """{dotted name: (path, is_package)} of every module of src/scikinc."""
    mods = {}
    for p in sorted((SRC / "scikinc").rglob("*.py")):
        parts = list(p.relative_to(SRC).with_suffix("").parts)
        pkg = parts[-1] == "__init__"
        mods[".".join(parts[:-1] if pkg else parts)] = (p, pkg)
    return mods


def _module_level_imports(body):
    """Import statements executed when the module is imported (not inside
    functions or classes, not under ``if TYPE_CHECKING``)."""
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If):
            t = node.test
            if not ((isinstance(t, ast.Name) and t.id == "TYPE_CHECKING")
                    or (isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")):
                yield from _module_level_imports(node.body)
            yield from _module_level_imports(node.orelse)
        elif isinstance(node, ast.Try):
            for b in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                yield from _module_level_imports(b)
        elif isinstance(node, ast.With):
            yield from _module_level_imports(node.body)


def import_graph() -> dict:
    """{module: set of scikinc modules it needs at import time}.  ``from pkg
    import sub`` depends on the submodule ``pkg.sub``; ``from pkg import name``
    (an attribute) on ``pkg`` itself, i.e. on its ``__init__`` having run."""
    mods = _modules()
    graph = {}
    for m, (p, pkg) in mods.items():
        deps = set()
        for node in _module_level_imports(ast.parse(p.read_text(), str(p)).body):
            if isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name.split(".")[0] == "scikinc"}
                continue
            if node.level:
                base = m.split(".") if pkg else m.split(".")[:-1]
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            elif node.module and node.module.split(".")[0] == "scikinc":
                target = node.module
            else:
                continue
            for a in node.names:
                deps.add(f"{target}.{a.name}" if f"{target}.{a.name}" in mods else target)
        graph[m] = {d for d in deps if d in mods and d != m}
    return graph


def find_cycle(graph: dict) -> list | None:
    """One cycle of ``graph`` as [a, b, ..., a], or None."""
    state: dict = {}
    path: list = []

    def dfs(v):
        state[v] = 1
        path.append(v)
        for w in sorted(graph[v]):
            if state.get(w) == 1:
                return path[path.index(w):] + [w]
            if w not in state:
                c = dfs(w)
                if c:
                    return c
        state[v] = 2
        path.pop()
        return None

    for v in sorted(graph):
        if v not in state:
            c = dfs(v)
            if c:
                return c
    return None


def test_find_cycle_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_import_graph_is_acyclic():
    g = import_graph()
    assert len(g) >= 30 and "scikinc.core" in g and "scikinc.ir.core" in g["scikinc.passes"] | g["scikinc.ir"]
    assert "scikinc.passes" in g["scikinc.core"]
    cycle = find_cycle(g)
    assert cycle is None, "import cycle between scikinc modules: " + " -> ".join(cycle)


def _needs_keras(mod: str) -> bool:
    p, _ = _modules()[mod]
    for node in _module_level_imports(ast.parse(p.read_text()).body):
        if isinstance(node, ast.ImportFrom) and node.level:
            continue
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        if any(n.split(".")[0] in ("keras", "tensorflow", "tf_keras") for n in names):
            return True
    return False


def _all_modules() -> list[str]:
    return [m.name for m in pkgutil.walk_packages([str(SRC / "scikinc")], "scikinc.")]


@pytest.mark.slow
def test_every_module_imports_first():
    """``import scikinc.X`` as the first scikinc import of a fresh interpreter."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    mods = _all_modules()
    assert "scikinc.converters.keras.layers" in mods and "scikinc.ir.core" in mods
    have_keras = _have_keras()
    todo = []
    for mod in mods:
        if not have_keras and _needs_keras(mod):
            continue
        if mod == "scikinc.__main__":  # runs the CLI: give it an argument that exits 0
            code = "import sys; sys.argv = ['scikinC', '--version']; import scikinc.__main__"
        else:
            code = f"import {mod}"
        todo.append((mod, code))
    failures = []
    running: list = []

    def reap(item):
        mod, code, proc = item
        out, err = proc.communicate(timeout=300)
        if proc.returncode != 0:
            failures.append(f"{mod}: exit {proc.returncode}\n{err[-2000:]}")

    for mod, code in todo:  # two at a time (2 cores)
        running.append((mod, code, subprocess.Popen([sys.executable, "-c", code], env=env, text=True,
                                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)))
        if len(running) == 2:
            reap(running.pop(0))
    for item in running:
        reap(item)
    assert not failures, "\n".join(failures)


# ---------------------------------------------------------------------------
# 6. IR invariants under python -O: one-line errors, no Traceback
# ---------------------------------------------------------------------------

def _cli_O(args, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "SCIKINC_TRACEBACK"}
    return subprocess.run([sys.executable, "-O", "-m", "scikinc", *args], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=300)


def _broken_models():
    rng = np.random.default_rng(8)
    X3, X4 = rng.normal(size=(200, 3)), rng.normal(size=(200, 4))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # an MLP whose second layer was built for 17 inputs after a 16-wide one: Dense invariant
        mlp = MLPRegressor(hidden_layer_sizes=(16,), max_iter=20, random_state=0).fit(X3, X3[:, 0])
        mlp.coefs_[1] = np.vstack([mlp.coefs_[1], np.ones((1, 1))])
        # a Pipeline whose steps were fitted on different widths
        pipe = Pipeline([("s", StandardScaler()), ("m", MLPRegressor(max_iter=20, random_state=0))])
        pipe.fit(X3, X3[:, 0])
        pipe.steps[1] = ("m", MLPRegressor(max_iter=20, random_state=0).fit(X4, X4[:, 0]))
        # a scaler whose statistics do not match its width: Affine invariant
        sc = StandardScaler().fit(X4)
        sc.scale_ = sc.scale_[:2]
    return {
        "dense": (mlp, r"Dense: built for input widths \[17\], got \[16\]"),
        "widths": (pipe, r"MLPRegressor expects 4 input columns but receives 3"),
        "affine": (sc, r"expected 4 values, got 2"),
    }


@pytest.mark.parametrize("case", slow_except(["dense", "widths", "affine"], "affine"))
def test_ir_invariant_errors_under_O(tmp_path, case):
    obj, msg = _broken_models()[case]
    with pytest.raises(ConversionError, match=msg):  # the same error through the API
        scikinc.convert({"m": obj})
    path = tmp_path / f"{case}.pkl"
    path.write_bytes(pickle.dumps(obj))
    for args in ([str(path), "-o", "out.c"], ["compile", str(path), "-o", "out.so"]):
        res = _cli_O(args, tmp_path)
        assert res.returncode == 1, (res.returncode, res.stderr)
        assert "Traceback" not in res.stderr
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("scikinC: error: "), res.stderr
        assert re.search(msg, lines[0]), lines[0]
        assert not (tmp_path / args[-1]).exists()


def test_O_really_strips_asserts(tmp_path):
    """Guard for the test above: the interpreter it runs does drop asserts."""
    res = subprocess.run([sys.executable, "-O", "-c", "assert False, 'kept'; print('stripped')"],
                         capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout.strip() == "stripped"
