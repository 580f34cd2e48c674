"""Compare a compiled model with the library it came from, on real data.

    scikinC validate [name=]model.pkl --data X.npy|X.csv [--so model.so]
                     [--float_t double] [--atol 1e-5] [--rtol 1e-4] [--plot out.png]

Python: ``scikinc.validate(model, X, so=None, ...) -> Report``.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .commands import subcommand
from .errors import ConversionError, InputError, ModelFileError, OptionError, OutputError, ScikincError, one_line
from .options import resolve


@dataclass
class Report:
    symbol: str
    n_rows: int
    max_abs: np.ndarray  # per output
    max_rel: np.ndarray  # per output
    worst_rows: list[int]
    n_bad: int
    atol: float
    rtol: float
    c_out: np.ndarray = field(repr=False)
    py_out: np.ndarray = field(repr=False)
    #: the weight storage of the tested build and, for half-size weights,
    #: what they cost: max |half - float32 build| and the relative error per output
    weights: str = "float32"
    half_abs: np.ndarray | None = None
    half_rel: np.ndarray | None = None

    @property
    def ok(self) -> bool:
        return self.n_bad == 0

    def __str__(self) -> str:
        lines = [f"{self.symbol}: {self.n_rows} rows, {self.c_out.shape[1]} outputs "
                 f"(tolerance |C - Python| <= {self.atol:g} + {self.rtol:g}*|Python|)",
                 f"{'output':>8} {'max abs err':>14} {'max rel err':>14}"]
        for j, (a, r) in enumerate(zip(self.max_abs, self.max_rel, strict=False)):
            lines.append(f"{j:>8} {a:>14.3e} {r:>14.3e}")
        lines.append("worst rows: " + ", ".join(
            f"{i} (|err|={np.nanmax(np.abs(self.c_out[i] - self.py_out[i])):.3e})" for i in self.worst_rows))
        if self.half_abs is not None and self.half_rel is not None:
            lines.append(f"{self.weights} weights vs the float32 build on the same rows: "
                         f"max abs err {self.half_abs.max(initial=0):.3e}, "
                         f"max rel err {self.half_rel.max(initial=0):.3e} (per output: "
                         + ", ".join(f"{a:.2e}/{r:.2e}" for a, r in zip(self.half_abs, self.half_rel, strict=False))
                         + ")")
        lines.append("PASS" if self.ok else f"FAIL: {self.n_bad} rows outside tolerance")
        return "\n".join(lines)


def _read_data(path: Path) -> np.ndarray:
    if not path.exists():
        raise ModelFileError(f"{path}: no such data file")
    if path.suffix not in (".npy", ".csv", ".txt"):
        raise ModelFileError(f"{path}: data must be .npy or .csv")
    try:
        if path.suffix == ".npy":
            X = np.load(path, allow_pickle=False)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # numpy warns about empty files: reported below
                X = np.genfromtxt(path, delimiter=",", dtype=np.float64)
            if X.size and np.isnan(np.atleast_1d(X[0])).all():  # header line
                X = X[1:]
        X = np.asarray(X, dtype=np.float64)
    except (ValueError, TypeError, OSError, IndexError) as e:
        raise ModelFileError(f"{path}: cannot read data ({one_line(e)})") from e
    if X.ndim > 2 or X.size == 0:
        raise ModelFileError(f"{path}: expected a non-empty table of rows, got an array of shape {X.shape}")
    return X.reshape(1, -1) if X.ndim == 1 else X


def _reference_options(options, sym: str, obj) -> dict:
    """The options :func:`scikinc.reference.predict` sees: those of the
    innermost last Pipeline step (the one whose output it mirrors)."""
    from sklearn.pipeline import Pipeline

    path: tuple[str, ...] = (sym,)
    while isinstance(obj, Pipeline) and obj.steps:
        name, obj = obj.steps[-1]
        path += (name,)
    return resolve(options, path)


def validate(model, X, *, so=None, symbol: str | None = None, float_t: str = "float", atol: float = 1e-5,
             rtol: float = 1e-4, rnd=None, seed: int = 0, options=None, plot=None, n_worst: int = 5,
             weights: str = "float32") -> Report:
    """Run the C and the Python implementation of ``model`` on ``X``.

    ``so``: an existing library to test (otherwise the model is compiled in a
    temporary directory).  Inputs are first rounded to the C type so both
    sides see the same numbers.  Generative models get ``rnd`` (default: a
    seeded standard-normal matrix).  ``options`` as for
    :func:`scikinc.convert` (scoped forms included); with ``so`` they are
    still checked by a conversion, and the Python side follows them.
    ``weights`` (``"float16"``, ``"bfloat16"``): the model is built with
    half-size dense weights, and also with float32 weights, and the report
    gives the error the half weights cost against the float32 build.
    """
    from . import compile as _compile
    from . import load, reference
    from .core import _items, _resolve, build_entries

    items = _resolve(_items(model, symbol), {})
    if len(items) != 1:
        raise ConversionError(f"validate takes one model, got {len(items)}")
    (sym, obj), = items
    try:
        X = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise InputError(f"{sym}: the rows to validate on are not numbers ({one_line(e)})") from e
    if X.ndim == 1:
        X = X.reshape(1, -1)
    if X.ndim != 2:
        raise InputError(f"{sym}: the rows to validate on must be a 2-D array, got shape {X.shape}")
    from .render import WEIGHTS

    if not isinstance(weights, str) or weights not in WEIGHTS:
        raise OptionError(f"weights must be one of {', '.join(WEIGHTS)}; got {weights!r}")
    if so is not None and weights != "float32":
        raise OptionError("validate: weights= builds the model itself; it cannot be given with so=")
    with tempfile.TemporaryDirectory() as tmp:
        f32 = None
        if so is None:
            so = _compile({sym: obj}, Path(tmp) / "validate.so", float_t=float_t, options=options, weights=weights)
            if weights != "float32":
                f32 = load(_compile({sym: obj}, Path(tmp) / "validate_f32.so", float_t=float_t, options=options),
                           sym)
        elif options:
            build_entries({sym: obj}, float_t=float_t, options=options)
        f = load(so, sym)
        if X.shape[1] != f.n_inputs:
            raise InputError(f"{sym}: the data has {X.shape[1]} columns but the model takes {f.n_inputs}")
        Xc = X.astype(f.dtype).astype(np.float64)
        if f.n_random is not None:
            if rnd is None:
                rnd = np.random.default_rng(seed).normal(size=(len(X), f.n_random))
            try:
                rnd = np.asarray(rnd, dtype=f.dtype).astype(np.float64)
            except (TypeError, ValueError) as e:
                raise InputError(f"{sym}: rnd is not an array of numbers ({one_line(e)})") from e
            c_out = f(Xc, rnd).astype(np.float64)
            c32 = None if f32 is None else f32(Xc, rnd).astype(np.float64)
        else:
            c_out = f(Xc).astype(np.float64)
            c32 = None if f32 is None else f32(Xc).astype(np.float64)
    try:
        py_out = reference.predict(obj, Xc, rnd=rnd, options=_reference_options(options, sym, obj))
    except ScikincError:
        raise
    except Exception as e:  # the library itself failed on these rows, or has no such method
        raise ScikincError(f"{sym}: the Python reference failed ({type(e).__name__}: {one_line(e)})") from e
    if py_out.shape != c_out.shape:
        raise ScikincError(f"C output shape {c_out.shape} differs from Python's {py_out.shape}")
    err = np.abs(c_out - py_out)
    both_nan = np.isnan(c_out) & np.isnan(py_out)
    err = np.where(both_nan, 0.0, err)
    err = np.where(np.isnan(err), np.inf, err)
    rel = err / np.maximum(np.abs(py_out), np.finfo(float).tiny)
    bad = err > atol + rtol * np.abs(np.nan_to_num(py_out))
    worst = np.argsort(-err.max(1), kind="stable")[:n_worst].tolist() if len(err) else []
    rep = Report(sym, len(X), err.max(0) if len(err) else np.zeros(c_out.shape[1]),
                 np.where(err.max(0) == 0, 0, rel.max(0)) if len(err) else np.zeros(c_out.shape[1]),
                 worst, int(bad.any(1).sum()), atol, rtol, c_out, py_out, weights)
    if c32 is not None:
        herr = np.abs(c_out - c32)
        herr = np.where(np.isnan(c_out) & np.isnan(c32), 0.0, herr)
        herr = np.where(np.isnan(herr), np.inf, herr)
        n_out = c_out.shape[1]
        rep.half_abs = herr.max(0) if len(herr) else np.zeros(n_out)
        hrel = herr / np.maximum(np.abs(c32), np.finfo(float).tiny)
        rep.half_rel = np.where(rep.half_abs == 0, 0, hrel.max(0)) if len(herr) else np.zeros(n_out)
    if plot:
        _plot(rep, Path(plot))
    return rep


def _plot(rep: Report, path: Path) -> None:
    try:
        import matplotlib
    except ImportError as e:
        raise ScikincError("--plot needs matplotlib (pip install matplotlib)") from e

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = rep.c_out.shape[1]
    fig, axes = plt.subplots(2, k, figsize=(3.2 * k, 5.5), squeeze=False)
    for j in range(k):
        a = axes[0][j]
        lo, hi = np.nanpercentile(rep.py_out[:, j], [0.5, 99.5])
        bins = np.linspace(lo, hi if hi > lo else lo + 1, 50)
        a.hist(rep.py_out[:, j], bins=bins, histtype="stepfilled", alpha=0.4, label="Python")
        a.hist(rep.c_out[:, j], bins=bins, histtype="step", color="k", label="C")
        a.set_title(f"output {j}")
        a.legend(fontsize=7)
        r = axes[1][j]
        r.plot(rep.py_out[:, j], rep.c_out[:, j] - rep.py_out[:, j], ",")
        r.set_xlabel("Python value")
        r.set_ylabel("C - Python")
    fig.suptitle(f"{rep.symbol}: C vs Python on {rep.n_rows} rows")
    fig.tight_layout()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=90)
    except (OSError, ValueError) as e:  # ValueError: an image format matplotlib does not know
        raise OutputError(f"{path}: cannot write the plot ({one_line(e)})") from e
    finally:
        plt.close(fig)


@subcommand("validate")
def validate_main(argv) -> int:
    from .cli import _parse_options
    from .io import load_model_file, split_spec

    p = argparse.ArgumentParser(prog="scikinC validate",
                                description="Run the C and the Python implementation on data and compare.")
    p.add_argument("model", metavar="[name=]MODEL")
    p.add_argument("--data", required=True, help="rows to test: .npy or .csv (comma separated)")
    p.add_argument("--so", default=None, help="test this library instead of compiling the model")
    p.add_argument("-f", "--float_t", "--float-t", dest="float_t", default="float",
                   choices=["float", "double", "long double"])
    p.add_argument("--atol", type=float, default=1e-5)
    p.add_argument("--rtol", type=float, default=1e-4)
    p.add_argument("--plot", default=None, metavar="OUT.png", help="overlay distributions and residuals")
    p.add_argument("--option", action="append", default=[], metavar="[SYMBOL.[STEP.]]KEY=VALUE",
                   help="converter option, as for scikinC (repeatable)")
    p.add_argument("--trust", action="append", default=[], metavar="TYPE")
    p.add_argument("--weights", default="float32", choices=["float32", "float16", "bfloat16"],
                   help="build with half-size dense weights and report their error against float32 weights")
    args = p.parse_args(argv)
    name, path = split_spec(args.model)
    from .io import sanitize

    obj = load_model_file(path, trust=args.trust)
    X = _read_data(Path(args.data))
    rep = validate({name or sanitize(Path(path).stem): obj}, X, so=args.so, float_t=args.float_t,
                   atol=args.atol, rtol=args.rtol, plot=args.plot, options=_parse_options(args.option),
                   weights=args.weights)
    print(rep)
    if args.plot:
        print(f"plot written to {args.plot}")
    return 0 if rep.ok else 1


def main() -> int:  # pragma: no cover
    from .cli import main as cli_main

    return cli_main(["validate", *sys.argv[1:]])
