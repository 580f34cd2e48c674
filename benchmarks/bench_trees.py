"""Tree ensembles: per-row latency of scikinc's compiled code (timed from C)
against sklearn ``predict_proba`` on one row, ONNX Runtime (skl2onnx, one
thread, one row, timed from Python: includes ~µs of binding overhead) and
tl2cgen/treelite compiled code (timed from C with
``tl2cgen_time.c``: the same loop as ``ctime.c``, filling tl2cgen's
``union Entry`` row per call).

Inputs are held-out rows of the training distribution, cycled over 5000 rows,
so that branch predictors cannot learn them.  The scikinc variants of a model
are timed in interleaved rounds (best of each), tl2cgen best of 3 runs, all
after an untimed warm-up (see ``common.time_c_interleaved``).

    python -m benchmarks.bench_trees
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from .common import BUILD, c_harness, fmt_ns, machine, time_c_interleaved, time_py

N_FEATURES = 10
#: tree_codegen values timed for every model ("auto" first: the default row)
STRATEGIES = ("auto", "bitvector", "branchfree", "table", "ifelse")


def _data(n, seed=0, classes=2):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, N_FEATURES))
    s = X[:, 0] + np.sin(2 * X[:, 1]) + X[:, 2] * X[:, 3] - 0.5 * X[:, 4] ** 2 + 0.3 * rng.normal(size=n)
    y = (s > 0).astype(int) if classes == 2 else np.digitize(s, np.quantile(s, np.linspace(0, 1, classes + 1)[1:-1]))
    return X, y


def models():
    from sklearn.ensemble import GradientBoostingClassifier, HistGradientBoostingClassifier, RandomForestClassifier

    X2, y2 = _data(6000)
    X3, y3 = _data(6000, classes=3)
    return [
        ("GBDT 100×d3, 2 classes", GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=0), X2, y2),
        ("GBDT 100×d3, 3 classes", GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=0), X3, y3),
        ("HistGB 200 it., 2 classes", HistGradientBoostingClassifier(max_iter=200, early_stopping=False,
                                                                     random_state=0), X2, y2),
        ("RF 100×d10, 2 classes", RandomForestClassifier(n_estimators=100, max_depth=10, random_state=0, n_jobs=2),
         X2, y2),
    ]


def _tl2cgen_harness() -> Path:
    return c_harness("tl2cgen_time")


def time_tl2cgen(m, X, n_out, workdir: Path) -> float:
    import tl2cgen
    import treelite

    tm = treelite.sklearn.import_model(m)
    lib = workdir / "tl2cgen.so"
    tl2cgen.export_lib(tm, toolchain="gcc", libpath=str(lib), params={"parallel_comp": 8}, nthread=2)
    rows = workdir / "rows_tl2cgen.bin"
    np.ascontiguousarray(X, dtype=np.float64).tofile(rows)
    best = float("inf")
    for _ in range(3):
        res = subprocess.run([str(_tl2cgen_harness()), str(lib), str(rows), str(len(X)), str(X.shape[1]),
                              str(n_out), "20000"], capture_output=True, text=True, check=True)
        best = min(best, float(res.stdout.strip()))
    return best


def time_onnx(m, X) -> float:
    import onnxruntime as ort
    from skl2onnx import to_onnx

    onx = to_onnx(m, X[:1].astype(np.float32), options={id(m): {"zipmap": False}},
                  target_opset={"": 17, "ai.onnx.ml": 3})
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(onx.SerializeToString(), so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    row = X[:1].astype(np.float32)
    return time_py(sess.run, None, {name: row})


def _log(*a):
    print(*a, file=sys.stderr, flush=True)


def run(only=None) -> list[dict]:
    from threadpoolctl import threadpool_limits

    import scikinc

    warnings.filterwarnings("ignore")
    out = []
    work = Path(tempfile.mkdtemp(prefix="bench_trees_", dir=str(BUILD) if BUILD.exists() else None))
    with threadpool_limits(1):
        for label, m, X, y in models():
            if only is not None and not any(o in label for o in only):
                continue
            _log("fit", label)
            m.fit(X, y)
            Xt, _ = _data(5000, seed=1)
            n_nodes = sum(e.tree_.node_count for e in np.ravel(m.estimators_)) if hasattr(m, "estimators_") \
                else sum(p.nodes.size for ps in m._predictors for p in ps)
            n_out = 1 if len(m.classes_) == 2 else len(m.classes_)
            from scikinc.core import build_entries

            ens = build_entries({"m": m})[0].graph.ops[0]  # the auto choice
            jobs, sizes = {}, {}
            for cg in STRATEGIES:
                if cg == "ifelse" and n_nodes > 15000:
                    continue  # nested ifs for this many nodes take minutes to compile
                if cg == "branchfree" and ens.n_trees * 2 ** ens.depth > 2 ** 20:
                    continue  # too deep to pad every tree to a complete one
                if cg == "bitvector" and ens.max_leaves > 64:
                    continue  # one bit per leaf in a 64-bit mask
                t0 = time.perf_counter()
                so = scikinc.compile({"m": m}, work / f"{abs(hash(label))}_{cg}.so",
                                     options={"tree_codegen": cg})
                sizes[cg] = dict(c_bytes=so.with_suffix(".c").stat().st_size, compile_s=time.perf_counter() - t0)
                jobs[cg] = (so, "m")
            skc = time_c_interleaved(jobs, Xt, rounds=3, log=lambda *a, label=label: _log(label, *a))
            for cg, ns in skc.items():
                if cg == "auto":
                    out.append(dict(model=label, tool="scikinc", ns_per_call=ns,
                                    notes=f"auto → {ens.codegen}; {n_nodes} nodes, depth ≤ {ens.depth}, "
                                          f"≤ {ens.max_leaves} leaves; float, gcc -O3", **sizes[cg]))
                else:
                    out.append(dict(model=label, tool=f"scikinc ({cg})", ns_per_call=ns, notes="tree_codegen option",
                                    **sizes[cg]))
            row = Xt[:1]
            _log("others", label)
            if hasattr(m, "n_jobs"):
                m.set_params(n_jobs=None)  # joblib dispatch would dominate a one-row call
            out.append(dict(model=label, tool="sklearn predict_proba", ns_per_call=time_py(m.predict_proba, row),
                            notes="one row"))
            try:
                out.append(dict(model=label, tool="ONNX Runtime", ns_per_call=time_onnx(m, Xt),
                                notes="skl2onnx, 1 thread, 1 row, from Python"))
            except Exception as e:  # pragma: no cover - depends on installed converters
                out.append(dict(model=label, tool="ONNX Runtime", ns_per_call=float("nan"), notes=f"failed: {e}"[:80]))
            try:
                out.append(dict(model=label, tool="tl2cgen", ns_per_call=time_tl2cgen(m, Xt, len(m.classes_)
                                                                                        if n_out > 1 else 1, work),
                                notes="treelite import + tl2cgen gcc, timed from C"))
            except Exception as e:  # pragma: no cover
                out.append(dict(model=label, tool="tl2cgen", ns_per_call=float("nan"), notes=f"failed: {e}"[:80]))
    return out


def main() -> None:
    res = run(sys.argv[1:] or None)
    print(f"# tree ensembles, per-row latency ({machine()})")
    print(f"| {'model':28s} | {'tool':22s} | {'ns/call':>10s} | {'vs scikinc':>10s} | notes")
    print(f"|{'-' * 30}|{'-' * 24}|{'-' * 12}|{'-' * 12}|------")
    base = {r["model"]: r["ns_per_call"] for r in res if r["tool"] == "scikinc"}
    for r in res:
        ratio = r["ns_per_call"] / base[r["model"]]
        print(f"| {r['model']:28s} | {r['tool']:22s} | {fmt_ns(r['ns_per_call']):>10s} | {ratio:9.1f}× | {r['notes']}")


if __name__ == "__main__":
    sys.exit(main())
