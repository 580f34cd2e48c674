"""Boosted trees (XGBoost, LightGBM, CatBoost): per-row latency of scikinc's
compiled code (timed from C) against

* the library's own predict on one row with one thread, from Python
  (``Booster.inplace_predict`` with ``nthread=1``, LightGBM
  ``predict(num_threads=1)``, CatBoost ``predict(thread_count=1)``);
* tl2cgen/treelite compiled code (treelite's XGBoost/LightGBM importers,
  timed from C with ``tl2cgen_time.c``; CatBoost has no treelite
  importer);
* ONNX Runtime, one thread, one row, from Python (onnxmltools for XGBoost and
  LightGBM, CatBoost's own ``save_model(format="onnx")``);
* lleaves for LightGBM: its ``predict`` on one row with ``n_jobs=1`` (a Python
  call), and its compiled function itself from C: lleaves caches its LLVM
  output as an ELF object exporting ``forest_root(data, out, start, end)``;
  a two-line wrapper gives it scikinc's signature, linked into a .so and
  timed by ``ctime.c`` (double rows, as lleaves reads them).

The scikinc builds are float (``FLOAT_T float``; the LightGBM thresholds stay
double, as LightGBM compares them) and their tree_codegen variants are timed
in interleaved rounds (best of each).  For the default build the conversion
and gcc compile run once more in a fresh process, which reports the wall
time and the peak resident memory of gcc (getrusage of its children) and of
the Python conversion itself.

    python -m benchmarks --only boosting
"""
from __future__ import annotations

import hashlib
import json
import pickle
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from .common import BUILD, HERE, c_harness, time_c, time_c_interleaved, time_py

N_FEATURES = 16
N_TRAIN = 20000
#: tree_codegen values timed for every model ("auto" first: the default row)
STRATEGIES = ("auto", "bitvector", "branchfree", "table", "ifelse")
#: the issue's limits for the 1000-tree models
MAX_COMPILE_S = 60.0
MAX_RSS_MB = 2048.0


def _data(n, seed=0, classes=2):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, N_FEATURES))
    s = (X[:, 0] + np.sin(2 * X[:, 1]) + X[:, 2] * X[:, 3] - 0.5 * X[:, 4] ** 2 + 0.4 * np.cos(3 * X[:, 5])
         + 0.3 * X[:, 6] * X[:, 7] + 0.3 * rng.normal(size=n))
    y = (s > 0).astype(int) if classes == 2 else np.digitize(s, np.quantile(s, np.linspace(0, 1, classes + 1)[1:-1]))
    return X, y


def models():
    """``(label, library, unfitted model, classes)``."""
    import catboost
    import lightgbm
    import xgboost

    return [
        ("XGBoost 100×d6, 2 classes", "xgboost",
         xgboost.XGBClassifier(n_estimators=100, max_depth=6, n_jobs=2, random_state=0), 2),
        ("XGBoost 500×d8, 10 classes", "xgboost",
         xgboost.XGBClassifier(n_estimators=500, max_depth=8, n_jobs=2, random_state=0), 10),
        ("LightGBM 100×d6, 2 classes", "lightgbm",
         lightgbm.LGBMClassifier(n_estimators=100, max_depth=6, num_leaves=63, n_jobs=2, verbose=-1,
                                 random_state=0), 2),
        ("LightGBM 1000×31 leaves, 2 classes", "lightgbm",
         lightgbm.LGBMClassifier(n_estimators=1000, num_leaves=31, n_jobs=2, verbose=-1, random_state=0), 2),
        ("CatBoost 100×d6, 2 classes", "catboost",
         catboost.CatBoostClassifier(iterations=100, depth=6, thread_count=2, verbose=0, random_seed=0), 2),
        ("CatBoost 500×d8, 10 classes", "catboost",
         catboost.CatBoostClassifier(iterations=500, depth=8, thread_count=2, verbose=0, random_seed=0,
                                     loss_function="MultiClass"), 10),
    ]


def _log(*a):
    print("[boosting]", *a, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- the libraries' own predict
def time_native(lib, m, row) -> tuple[float, str]:
    if lib == "xgboost":
        b = m.get_booster()
        b.set_param({"nthread": 1})
        r32 = row.astype(np.float32)
        return time_py(b.inplace_predict, r32), "Booster.inplace_predict, nthread=1, 1 row, from Python"
    if lib == "lightgbm":
        return (time_py(lambda r: m.booster_.predict(r, num_threads=1), row),
                "Booster.predict(num_threads=1), 1 row, from Python")
    return (time_py(lambda r: m.predict(r, prediction_type="Probability", thread_count=1), row),
            "predict(prediction_type='Probability', thread_count=1), 1 row, from Python")


# ----------------------------------------------------------------------------- tl2cgen
def time_tl2cgen(lib, m, X, n_out, workdir: Path) -> tuple[float, float, int]:
    import tl2cgen
    import treelite

    tm = (treelite.frontend.from_xgboost(m.get_booster()) if lib == "xgboost"
          else treelite.frontend.from_lightgbm(m.booster_))
    libpath = workdir / f"tl2cgen_{lib}_{id(m)}.so"
    # tl2cgen puts each translation unit's trees in one function; gcc -O3 is
    # superlinear in a function's size (8 units of 625 trees each, the 5000
    # trees of XGBoost 500x10 classes, had not compiled after 28 min): about
    # TL2CGEN_TREES_PER_UNIT trees a unit keeps every unit small
    units = max(8, -(-int(tm.num_tree) // TL2CGEN_TREES_PER_UNIT))
    t0 = time.perf_counter()
    tl2cgen.export_lib(tm, toolchain="gcc", libpath=str(libpath), params={"parallel_comp": units}, nthread=2)
    compile_s = time.perf_counter() - t0
    rows = workdir / "rows_tl2cgen.bin"
    np.ascontiguousarray(X, dtype=np.float64).tofile(rows)
    best = float("inf")
    ftype = "float" if lib == "xgboost" else "double"  # treelite's threshold type for each importer
    for _ in range(3):
        res = subprocess.run([str(c_harness("tl2cgen_time")), str(libpath), str(rows), str(len(X)),
                              str(X.shape[1]), str(n_out), "20000", ftype], capture_output=True, text=True,
                             check=True)
        best = min(best, float(res.stdout.strip()))
    return best, compile_s, units


# ----------------------------------------------------------------------------- ONNX Runtime
def _onnx_bytes(lib, m, workdir: Path) -> bytes:
    if lib == "catboost":
        path = workdir / f"catboost_{id(m)}.onnx"
        m.save_model(str(path), format="onnx")
        return path.read_bytes()
    from onnxmltools import convert_lightgbm, convert_xgboost
    from onnxmltools.convert.common.data_types import FloatTensorType

    types = [("input", FloatTensorType([None, N_FEATURES]))]
    if lib == "xgboost":
        return convert_xgboost(m, initial_types=types).SerializeToString()
    return convert_lightgbm(m, initial_types=types, zipmap=False).SerializeToString()


def time_onnx(lib, m, X, workdir: Path) -> float:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(_onnx_bytes(lib, m, workdir), so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    outs = [o.name for o in sess.get_outputs() if "prob" in o.name.lower()] or None
    row = X[:1].astype(np.float32)
    ref = np.ravel(sess.run(outs, {name: row})[-1])
    if ref.dtype != object and ref.size > 1:  # a probability vector: check it is the model's
        if not np.allclose(ref[-len(m.classes_):], m.predict_proba(X[:1])[0], atol=1e-4):
            raise RuntimeError("ONNX probabilities differ from the model's")
    return time_py(sess.run, outs, {name: row})


# ----------------------------------------------------------------------------- lleaves
_LLEAVES_WRAPPER = """\
void forest_root(const double *data, double *out, int start, int end);
const int m_n_inputs = %d, m_n_outputs = %d;
double *m(double *out, const double *in) { forest_root(in, out, 0, 1); return out; }
"""


def time_lleaves(m, X, n_out, workdir: Path) -> tuple[float, float, float]:
    """(Python predict ns, C ns of the compiled function, compile seconds)."""
    import lleaves

    txt = workdir / f"lgbm_{id(m)}.txt"
    m.booster_.save_model(str(txt))
    obj = workdir / f"lleaves_{id(m)}.o"
    obj.unlink(missing_ok=True)
    t0 = time.perf_counter()
    ll = lleaves.Model(model_file=str(txt))
    ll.compile(cache=str(obj))
    compile_s = time.perf_counter() - t0
    ref = ll.predict(X[:200], n_jobs=1)
    if not np.allclose(np.reshape(ref, (200, -1))[:, -1], m.predict_proba(X[:200])[:, -1], rtol=1e-12, atol=1e-12):
        raise RuntimeError("lleaves predictions differ from LightGBM's")
    py_ns = time_py(lambda r: ll.predict(r, n_jobs=1), X[:1])
    wrap = workdir / f"lleaves_{id(m)}_wrap.c"
    wrap.write_text(_LLEAVES_WRAPPER % (X.shape[1], n_out))
    so = workdir / f"lleaves_{id(m)}.so"
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", str(so), str(wrap), str(obj), "-lm"], check=True)
    c_ns = min(time_c(so, "m", X, float_t="double") for _ in range(3))
    return py_ns, c_ns, compile_s


# ----------------------------------------------------------------------------- scikinc build cost
_BUILD_SCRIPT = """\
import json, pickle, resource, sys, time
t0 = time.perf_counter()
import scikinc
m = pickle.load(open(sys.argv[1], "rb"))
t1 = time.perf_counter()
so = scikinc.compile({"m": m}, sys.argv[2])
t2 = time.perf_counter()
kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(dict(build_s=t2 - t1, gcc_mb=kids, python_mb=me)))
"""


def build_cost(m, workdir: Path) -> dict:
    """Convert + compile the default build in a fresh process: its wall time
    and the peak RSS (MB) of gcc (the largest child) and of the process."""
    pk = workdir / f"model_{id(m)}.pkl"
    pk.write_bytes(pickle.dumps(m))
    res = subprocess.run([sys.executable, "-c", _BUILD_SCRIPT, str(pk), str(workdir / f"cost_{id(m)}.so")],
                         capture_output=True, text=True, check=True, cwd=str(HERE.parent))
    return json.loads(res.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- scikinc
def _ensemble(m):
    """The lowered tree op of the default build (its ``codegen`` is auto's choice)."""
    from scikinc.core import build_entries
    from scikinc.ir.trees import TreeStrategy

    return next(op for op in build_entries({"m": m})[0].graph.ops if isinstance(op, TreeStrategy))


def time_scikinc(label, m, X, workdir: Path) -> list[dict]:
    import scikinc

    ens = _ensemble(m)
    n_nodes = ens.n_nodes
    jobs, sizes = {}, {}
    for cg in STRATEGIES:
        if cg == "ifelse" and n_nodes > 40000:
            continue  # nested ifs for this many nodes take minutes to compile
        if cg == "branchfree" and (ens.has_cat or ens.n_trees * 2 ** ens.depth > 2 ** 20 or ens.depth > 14):
            continue  # too deep to pad every tree to a complete one
        if cg == "bitvector" and ens.max_leaves > 64:
            continue  # one bit per leaf in a 64-bit mask
        t0 = time.perf_counter()
        so = scikinc.compile({"m": m}, workdir / f"{abs(hash(label))}_{cg}.so", options={"tree_codegen": cg})
        sizes[cg] = dict(c_bytes=so.with_suffix(".c").stat().st_size, compile_s=time.perf_counter() - t0)
        jobs[cg] = (so, "m")
    skc = time_c_interleaved(jobs, X, rounds=3, log=lambda *a: _log(label, *a))
    cost = build_cost(m, workdir)
    ok = cost["build_s"] < MAX_COMPILE_S and max(cost["gcc_mb"], cost["python_mb"]) < MAX_RSS_MB
    out = []
    for cg, ns in skc.items():
        if cg == "auto":
            out.append(dict(model=label, tool="scikinc", ns_per_call=ns,
                            notes=f"auto → {ens.codegen}; {ens.n_trees} trees, {n_nodes} nodes, depth ≤ {ens.depth}, "
                                  f"≤ {ens.max_leaves} leaves; float, gcc -O3; convert + gcc {cost['build_s']:.1f} s, "
                                  f"peak RSS gcc {cost['gcc_mb']:.0f} MB, Python {cost['python_mb']:.0f} MB"
                                  + ("" if ok else " (OVER the 60 s / 2 GB limit)"),
                            c_bytes=sizes[cg]["c_bytes"]))
        else:
            out.append(dict(model=label, tool=f"scikinc ({cg})", ns_per_call=ns, notes="tree_codegen option",
                            **sizes[cg]))
    return out


def _fitted(label, m, classes):
    """``m`` fitted on the training rows, or the same fit from an earlier run:
    the fits are seeded, and the 500-tree 10-class ones take minutes on 2
    busy cores (BUILD/models/, delete it to refit)."""
    X, y = _data(N_TRAIN, classes=classes)
    key = hashlib.sha1(repr((label, m.__class__.__name__, sorted(m.get_params().items()), N_TRAIN,
                             N_FEATURES, X[:3].tobytes())).encode()).hexdigest()[:16]
    path = BUILD / "models" / f"{key}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    _log("fit", label)
    m.fit(X, y)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(m))
    return m


class _Rows(list):
    """The result rows, each also logged as it comes (a long run that is
    stopped still leaves its rows on stderr)."""

    def append(self, row):
        _log("row", json.dumps(row, default=str, ensure_ascii=False))
        super().append(row)

    def extend(self, rows):
        for r in rows:
            self.append(r)


#: tl2cgen: trees per translation unit (its parallel_comp parameter is set from it)
TL2CGEN_TREES_PER_UNIT = 25


def _failed(label, tool, e) -> dict:
    return dict(model=label, tool=tool, ns_per_call=float("nan"), notes=f"failed: {e}"[:100])


def run(only=None) -> list[dict]:
    warnings.filterwarnings("ignore")
    BUILD.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench_boosting_", dir=str(BUILD)))
    out = _Rows()
    for label, lib, m, classes in models():
        if only is not None and not any(o in label for o in only):
            continue
        m = _fitted(label, m, classes)
        Xt, _ = _data(5000, seed=1, classes=classes)
        n_out = 1 if classes == 2 else classes
        out.extend(time_scikinc(label, m, Xt, work))
        _log("others", label)
        ns, note = time_native(lib, m, Xt[:1])
        out.append(dict(model=label, tool=f"{lib} predict", ns_per_call=ns, notes=note))
        if lib != "catboost":
            try:
                ns, cs, units = time_tl2cgen(lib, m, Xt, n_out, work)
                out.append(dict(model=label, tool="tl2cgen", ns_per_call=ns, compile_s=cs,
                                notes=f"treelite import + tl2cgen gcc (parallel_comp={units}), timed from C"))
            except Exception as e:  # pragma: no cover - depends on installed tools
                out.append(_failed(label, "tl2cgen", e))
        try:
            out.append(dict(model=label, tool="ONNX Runtime", ns_per_call=time_onnx(lib, m, Xt, work),
                            notes=("catboost save_model(format='onnx')" if lib == "catboost" else "onnxmltools")
                                  + ", 1 thread, 1 row, from Python"))
        except Exception as e:  # pragma: no cover
            out.append(_failed(label, "ONNX Runtime", e))
        if lib == "lightgbm":
            try:
                py_ns, c_ns, cs = time_lleaves(m, Xt, n_out, work)
                out.append(dict(model=label, tool="lleaves (C)", ns_per_call=c_ns, compile_s=cs,
                                notes="its LLVM object's forest_root timed from C (double rows)"))
                out.append(dict(model=label, tool="lleaves predict", ns_per_call=py_ns,
                                notes="Model.predict(n_jobs=1), 1 row, from Python"))
            except Exception as e:  # pragma: no cover
                out.append(_failed(label, "lleaves", e))
    return list(out)


if __name__ == "__main__":
    from .__main__ import table

    print(table(run(sys.argv[1:] or None)))
