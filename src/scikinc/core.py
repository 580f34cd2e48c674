"""``convert``: fitted objects -> C source."""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import passes, registry
from .errors import ConversionError, InvalidSymbolError, NotFittedError, NotInvertible, ScikincError, one_line
from .io import check_load_opts, check_symbol, load_model_file, sanitize, split_spec
from .ir import Graph, Value
from .options import OptionTracker
from .render import FLOAT_TYPES, Entry, render_file, render_header

__all__ = ["convert", "build_entries", "Context", "header"]

_GUARD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _version() -> str:
    from . import __version__

    return __version__


#: exceptions a converter (or the IR, or the optimiser) may leak on a model it
#: cannot handle; they reach the user as ConversionError naming the object
_LEAKS = (ValueError, TypeError, KeyError, IndexError, AttributeError, AssertionError, ArithmeticError)


def _leak(e: Exception, what: str) -> ConversionError:
    return ConversionError(f"{what}: cannot convert ({type(e).__name__}: {one_line(e)})")


def _located(e: ConversionError, kind: str) -> ConversionError:
    """``e`` when its message names ``kind`` already, else the same error with
    ``kind: `` in front (an IR op says "Dense: built for input widths [2]",
    not which model built that Dense)."""
    if kind in str(e):
        return e
    try:
        return type(e)(f"{kind}: {e}")
    except TypeError:  # pragma: no cover - an error class with another constructor
        return e


@dataclass
class Context:
    """Handed to every converter: recursion into sub-models and options.

    ``options`` are the user's options (see :mod:`scikinc.options` for the
    scoped forms); converters read them with :meth:`option` and give the
    parts of composites a scope with :meth:`scope`.
    """

    float_t: str = "float"
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        self.tracker = OptionTracker(self.options)
        #: the scope converters are running in: (symbol, step, sub-step, ...)
        self.path: tuple = ()
        #: while a Keras layer converter runs: the layer call being converted
        #: (its input Values and Keras shapes; see converters/keras/graph.py)
        self.layer_call = None
        self._kinds: list[str] = []

    def option(self, key: str, default=None, choices=None):
        """The value of option ``key`` for the converter running now, else ``default``.

        Scoped values win over unscoped ones (``a.clf.output`` over
        ``a.output`` over ``output``).  ``choices``: the values this converter
        accepts; a value outside them given for a wider scope is skipped (the
        next wider one, or ``default``, is used) so that, e.g., an unscoped
        ``output=class`` leaves regressors alone.  A value no converter in its
        scope accepts is an :class:`OptionError` after the conversion.
        """
        kind = self._kinds[-1] if self._kinds else None
        return self.tracker.get(self.path, key, default, None if choices is None else tuple(choices), kind)

    @contextmanager
    def scope(self, name):
        """Run the conversions inside the ``with`` block in the sub-scope
        ``name`` (a Pipeline step, a ColumnTransformer part...): options
        written ``symbol.name.key`` apply there."""
        prev = self.path
        self.path = self.tracker.enter(prev, str(name))
        try:
            yield self
        finally:
            self.path = prev

    def check_fitted(self, obj) -> None:
        try:
            from sklearn.base import BaseEstimator
            from sklearn.exceptions import NotFittedError as SkNotFitted
            from sklearn.utils.validation import check_is_fitted
        except ImportError:  # pragma: no cover
            return
        if isinstance(obj, BaseEstimator):
            steps = getattr(obj, "steps", None)
            if isinstance(steps, list) and steps and not isinstance(steps[-1][1], BaseEstimator):
                # older sklearn (1.4, at least) judges a Pipeline by its last step's trailing-underscore
                # attributes: a fitted Keras model has none; the parts are checked one by one
                return
            try:
                check_is_fitted(obj)
            except SkNotFitted as e:
                raise NotFittedError(
                    f"{type(obj).__name__} is not fitted: call fit() before converting it"
                ) from e
            except (AttributeError, TypeError):
                # sklearn cannot inspect a non-sklearn part of a composite (e.g. a
                # Pipeline ending in a Keras model); the parts are checked one by
                # one when they are converted
                return

    def _run(self, obj, fn, *args):
        kind = type(obj).__name__
        self.tracker.visit(self.path, kind)
        self._kinds.append(kind)
        try:
            return fn(*args)
        except ConversionError as e:
            located = _located(e, kind)
            if located is e:
                raise
            raise located from e
        except ScikincError:
            raise
        except _LEAKS as e:
            raise _leak(e, kind) from e
        finally:
            self._kinds.pop()

    def convert(self, obj, g: Graph, x: Value, name: str | None = None) -> Value:
        """Append the ops of ``obj``'s forward transform reading ``x``.
        ``name`` (a Pipeline step's, a ColumnTransformer part's): convert in
        the sub-scope ``name`` (see :meth:`scope`)."""
        if name is not None:
            with self.scope(name):
                return self.convert(obj, g, x)
        conv = registry.lookup(obj)
        self.check_fitted(obj)

        def run():
            n = n_inputs(obj, conv)
            if n is not None and n != x.width:
                raise ConversionError(
                    f"{type(obj).__name__} expects {n} input columns but receives {x.width}"
                )
            with g.at(self.path[1:]):
                return conv.forward(obj, g, x, self)

        return self._run(obj, run)

    def convert_inverse(self, obj, g: Graph, x: Value, name: str | None = None) -> Value:
        """Append the ops of ``obj.inverse_transform`` reading ``x``."""
        if name is not None:
            with self.scope(name):
                return self.convert_inverse(obj, g, x)
        conv = registry.lookup(obj)
        if conv.inverse is None:
            raise NotInvertible(f"{type(obj).__name__} has no inverse converter")
        self.check_fitted(obj)
        def run():
            with g.at(self.path[1:]):
                return conv.inverse(obj, g, x, self)

        return self._run(obj, run)

    def has_inverse(self, obj) -> bool:
        try:
            return registry.lookup(obj).inverse is not None
        except ConversionError:
            return False


def n_inputs(obj, conv: registry.Converter | None = None) -> int | None:
    conv = conv or registry.lookup(obj)
    if conv.n_inputs is not None:
        return conv.n_inputs(obj)
    n = getattr(obj, "n_features_in_", None)
    return None if n is None else int(n)


# ---------------------------------------------------------------------------
# Normalising the many ways of naming models
# ---------------------------------------------------------------------------


def _items(models, name: str | None) -> list[tuple[str | None, Any]]:
    if isinstance(models, Mapping):
        if name is not None:
            raise ConversionError("name= cannot be combined with a {symbol: model} dict")
        return [(k, v) for k, v in models.items()]
    if isinstance(models, (str, Path)):
        models = [models]
        items = [(name, m) for m in models]
    elif isinstance(models, (list, tuple)):
        if name is not None and len(models) != 1:
            raise ConversionError("name= needs exactly one model; use a dict for several")
        items = [(name, m) for m in models]
    else:
        items = [(name, models)]
    return items


def _resolve(items, load_opts) -> list[tuple[str, Any]]:
    out = []
    for sym, obj in items:
        if isinstance(obj, (str, Path)):
            spec_name, path = split_spec(str(obj)) if isinstance(obj, str) else (None, str(obj))
            sym = sym or spec_name or sanitize(Path(path).stem if not Path(path).is_dir() else Path(path).name)
            obj = load_model_file(path, **load_opts)
        if sym is None:
            sym = getattr(obj, "name", None) if isinstance(getattr(obj, "name", None), str) else None
            sym = sanitize(sym) if sym else sanitize(type(obj).__name__.lower())
        out.append((check_symbol(sym), obj))
    return out


def build_entries(models, *, name=None, float_t="float", options=None, optimize=True,
                  load_opts=None) -> list[Entry]:
    if not isinstance(float_t, str) or float_t not in FLOAT_TYPES:
        raise ConversionError(f"float_t must be one of {', '.join(FLOAT_TYPES)}; got {float_t!r}")
    load_opts = check_load_opts(load_opts or {})
    ctx = Context(float_t=float_t, options=options or {})
    items = _resolve(_items(models, name), load_opts)
    if not items:
        raise ConversionError("nothing to convert: no models given")
    ctx.tracker.check_symbols(sym for sym, _ in items)
    entries: list[Entry] = []
    for sym, obj in items:
        with ctx.scope(sym):
            entries += _symbol_entries(ctx, sym, obj, optimize)
    _check_unique(entries)
    ctx.tracker.check()
    return entries


def _symbol_entries(ctx: Context, sym: str, obj, optimize: bool) -> list[Entry]:
    """The forward entry of one symbol, and its inverse when there is one."""
    conv = registry.lookup(obj)
    ctx.check_fitted(obj)
    try:
        n = n_inputs(obj, conv)
    except ScikincError:
        raise
    except _LEAKS as e:
        raise _leak(e, type(obj).__name__) from e
    if n is None:
        raise ConversionError(
            f"cannot tell the input width of {type(obj).__name__} (no n_features_in_)"
        )
    g = Graph(n)
    y = g.output = ctx.convert(obj, g, g.input)
    fuse = _fuse(ctx)
    fwd = Entry(sym, _finish(g, optimize, sym, fuse), doc=type(obj).__name__, extra=dict(g.meta))
    out = [fwd]
    if conv.inverse is not None:
        gi = Graph(y.width)
        try:
            gi.output = ctx.convert_inverse(obj, gi, gi.input)
        except NotInvertible:
            return out
        out.append(Entry(sym + "_inverse", _finish(gi, optimize, sym + "_inverse", fuse),
                         doc=f"inverse of {type(obj).__name__}"))
    return out


def _fuse(ctx: Context) -> bool:
    """Option ``fuse`` (default True; ``keras_fuse`` is its old name): fuse
    activations and residual adds into the dense layers' epilogue."""
    return bool(ctx.option("fuse", ctx.option("keras_fuse", True, choices=(True, False)), choices=(True, False)))


def finish(g: Graph, optimize: bool = True, *, fuse: bool = True) -> Graph:
    if g.output is None:
        raise ConversionError("converter returned no output value")
    g.prune()
    if optimize:
        passes.optimize(g, fuse=fuse)
    passes.lower_trees(g)
    return g


def _finish(g: Graph, optimize: bool, sym: str, fuse: bool = True) -> Graph:
    try:
        return finish(g, optimize, fuse=fuse)
    except ScikincError:
        raise
    except _LEAKS as e:
        raise _leak(e, f"{sym} (optimising its graph)") from e


def _render(fn, entries, **kw) -> str:
    try:
        return fn(entries, **kw)
    except ScikincError:
        raise
    except _LEAKS as e:
        raise _leak(e, "rendering the C file") from e


def exported_names(e: Entry) -> list[str]:
    names = [e.name, e.name + "_batch", e.name + "_n_outputs", e.name + "_float_t"]
    from .render import INPUT_META

    names += [f"{e.name}_{INPUT_META.get(p, 'n_' + p)}" for p, _ in e.graph.inputs]
    names += [f"{e.name}_{k}" for k in e.extra]
    return names


def _check_unique(entries: Iterable[Entry]) -> None:
    seen: dict[str, str] = {}
    for e in entries:
        for n in exported_names(e):
            if n in seen:
                raise InvalidSymbolError(
                    f"duplicate symbol {n!r} (from models {seen[n]!r} and {e.name!r}); "
                    "give each model a distinct name"
                )
            seen[n] = e.name


def convert(models, *, float_t: str = "float", name: str | None = None, copyright: str | None = None,
            options: Mapping[str, Any] | None = None, optimize: bool = True, weights: str = "float32",
            **load_opts) -> str:
    """Translate fitted models into one C source file.

    ``models`` is a fitted object, a ``{symbol: object}`` dict, a list, or
    model-file paths (``"symbol=path.pkl"`` allowed).  ``float_t`` is the C
    type of inputs, outputs and weights: ``"float"``, ``"double"`` or
    ``"long double"``.  ``options`` are converter options, unscoped
    (``{"output": "class"}``: every converter that reads ``output`` and
    accepts ``"class"``) or scoped to a symbol and a step of it
    (``{"a": {"output": "class"}}``, ``{"a": {"clf": {"output": "class"}}}``
    or ``{"a.clf.output": "class"}``); see :mod:`scikinc.options` and the
    README for the rules and for which converter reads which option.  An
    option no converter takes raises :class:`~scikinc.OptionError`.
    ``copyright`` is text for the file's comment header; ``trust`` (a list of
    type names) is passed to the ``.skops`` reader.  ``weights="float16"`` or
    ``"bfloat16"`` stores the big dense layers' weights half-size (rounded to
    nearest even, widened exactly in registers, FLOAT_T accumulation);
    ``"float32"`` (the default) stores them as FLOAT_T.
    """
    if copyright is not None and not isinstance(copyright, str):
        raise ConversionError(f"copyright must be a string, got {type(copyright).__name__}")
    entries = build_entries(models, name=name, float_t=float_t, options=options,
                            optimize=optimize, load_opts=load_opts)
    return _render(render_file, entries, float_t=float_t, copyright=copyright, version=_version(),
                   weights=weights)


def header(models, *, float_t: str = "float", name: str | None = None, guard: str = "SCIKINC_MODELS_H",
           options=None, **load_opts) -> str:
    """The C header (prototypes + metadata declarations) matching ``convert``."""
    if not isinstance(guard, str) or not _GUARD.match(guard):
        raise ConversionError(f"header guard must be a C identifier, got {guard!r}")
    entries = build_entries(models, name=name, float_t=float_t, options=options, load_opts=load_opts)
    return _render(render_header, entries, float_t=float_t, version=_version(), guard=guard)
