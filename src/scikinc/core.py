"""``convert``: fitted objects -> C source."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from . import passes, registry
from .errors import ConversionError, InvalidSymbolError, NotFittedError, NotInvertible
from .io import check_symbol, load_model_file, sanitize, split_spec
from .ir import Graph, Value
from .render import FLOAT_TYPES, Entry, render_file, render_header

__all__ = ["convert", "build_entries", "Context", "header"]


def _version() -> str:
    from . import __version__

    return __version__


@dataclass
class Context:
    """Handed to every converter: recursion into sub-models and options."""

    float_t: str = "float"
    options: Mapping[str, Any] = field(default_factory=dict)
    #: while a Keras layer converter runs: the layer call being converted
    #: (its input Values and Keras shapes; see converters/keras/graph.py)
    layer_call: Any = None

    def option(self, key: str, default=None):
        return self.options.get(key, default)

    def check_fitted(self, obj) -> None:
        try:
            from sklearn.base import BaseEstimator
            from sklearn.exceptions import NotFittedError as SkNotFitted
            from sklearn.utils.validation import check_is_fitted
        except ImportError:  # pragma: no cover
            return
        if isinstance(obj, BaseEstimator):
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

    def convert(self, obj, g: Graph, x: Value) -> Value:
        """Append the ops of ``obj``'s forward transform reading ``x``."""
        conv = registry.lookup(obj)
        self.check_fitted(obj)
        n = n_inputs(obj, conv)
        if n is not None and n != x.width:
            raise ConversionError(
                f"{type(obj).__name__} expects {n} input columns but receives {x.width}"
            )
        return conv.forward(obj, g, x, self)

    def convert_inverse(self, obj, g: Graph, x: Value) -> Value:
        """Append the ops of ``obj.inverse_transform`` reading ``x``."""
        conv = registry.lookup(obj)
        if conv.inverse is None:
            raise NotInvertible(f"{type(obj).__name__} has no inverse converter")
        self.check_fitted(obj)
        return conv.inverse(obj, g, x, self)

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
    if float_t not in FLOAT_TYPES:
        raise ConversionError(f"float_t must be one of {', '.join(FLOAT_TYPES)}; got {float_t!r}")
    ctx = Context(float_t=float_t, options=dict(options or {}))
    entries: list[Entry] = []
    for sym, obj in _resolve(_items(models, name), load_opts or {}):
        conv = registry.lookup(obj)
        ctx.check_fitted(obj)
        n = n_inputs(obj, conv)
        if n is None:
            raise ConversionError(
                f"cannot tell the input width of {type(obj).__name__} (no n_features_in_)"
            )
        g = Graph(n)
        g.output = ctx.convert(obj, g, g.input)
        fwd = Entry(sym, finish(g, optimize, fuse=_fuse(ctx)), doc=type(obj).__name__)
        entries.append(fwd)
        if conv.inverse is not None:
            gi = Graph(fwd.graph.output.width)
            try:
                gi.output = ctx.convert_inverse(obj, gi, gi.input)
            except NotInvertible:
                continue
            entries.append(Entry(sym + "_inverse", finish(gi, optimize, fuse=_fuse(ctx)),
                                 doc=f"inverse of {type(obj).__name__}"))
    _check_unique(entries)
    return entries


def _fuse(ctx: Context) -> bool:
    """Option ``fuse`` (default True; ``keras_fuse`` is its old name): fuse
    activations and residual adds into the dense layers' epilogue."""
    return bool(ctx.option("fuse", ctx.option("keras_fuse", True)))


def finish(g: Graph, optimize: bool = True, *, fuse: bool = True) -> Graph:
    if g.output is None:
        raise ConversionError("converter returned no output value")
    g.prune()
    if optimize:
        passes.optimize(g, fuse=fuse)
    return g


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
            options: Mapping[str, Any] | None = None, optimize: bool = True, **load_opts) -> str:
    """Translate fitted models into one C source file.

    ``models`` is a fitted object, a ``{symbol: object}`` dict, a list, or
    model-file paths (``"symbol=path.pkl"`` allowed).  ``float_t`` is the C
    type of inputs, outputs and weights: ``"float"``, ``"double"`` or
    ``"long double"``.  ``options`` are passed to every converter (see the
    README for which converter reads which option).
    """
    entries = build_entries(models, name=name, float_t=float_t, options=options,
                            optimize=optimize, load_opts=load_opts)
    return render_file(entries, float_t=float_t, copyright=copyright, version=_version())


def header(models, *, float_t: str = "float", name: str | None = None, guard: str = "SCIKINC_MODELS_H",
           options=None, **load_opts) -> str:
    """The C header (prototypes + metadata declarations) matching ``convert``."""
    entries = build_entries(models, name=name, float_t=float_t, options=options, load_opts=load_opts)
    return render_header(entries, float_t=float_t, version=_version(), guard=guard)
