"""Converter registry: which function turns which class into IR.

A converter is ``fn(obj, g, x, ctx) -> Value``: it appends ops to the
:class:`~scikinc.ir.Graph` ``g`` reading the value ``x`` and returns the
output value.  Converters are registered for a class, or for a qualified
class name (``"package.module.ClassName"``) when importing the class would be
costly (Keras) or impossible (a plug-in for an optional package).

Third-party packages add converters without touching scikinc, either by
calling :func:`register_converter` at import time, or through the entry-point
group ``scikinc.converters`` (each entry point names a module or callable
that is imported/called once, the first time a converter is looked up).
"""
from __future__ import annotations

import importlib
import importlib.metadata
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import UnsupportedModelError

ENTRY_POINT_GROUP = "scikinc.converters"


@dataclass
class Converter:
    key: str  # qualified class name
    forward: Callable | None = None
    inverse: Callable | None = None
    n_inputs: Callable | None = None
    #: short text for the README tables (what is supported, which options)
    notes: str = ""
    builtin: bool = False
    #: a converter of a layer inside a model (Keras), not of a whole model
    layer: bool = False


_REGISTRY: dict[str, Converter] = {}
_loaded = False


def qualname(cls_or_name: Any) -> str:
    if isinstance(cls_or_name, str):
        return cls_or_name
    return f"{cls_or_name.__module__}.{cls_or_name.__qualname__}"


def _entry(cls_or_name) -> Converter:
    key = qualname(cls_or_name)
    if key not in _REGISTRY:
        _REGISTRY[key] = Converter(key)
    return _REGISTRY[key]


def register_converter(cls_or_name, *, n_inputs: Callable | None = None, notes: str = "",
                       layer: bool = False):
    """Decorator registering ``fn(obj, g, x, ctx) -> Value`` for a class.

    ``cls_or_name`` is a class or its qualified name.  ``n_inputs(obj)``
    tells the input width when ``obj.n_features_in_`` does not.

    Keras layers: register the layer's class (or its qualified name); ``x`` is
    the input Value, or the list of input Values for a layer called on several
    tensors.  The built-in layer converters are registered as
    ``"keras.layers.NAME"`` / ``"keras.ops.NAME"`` (``layer=True``); registering
    the same key replaces one.
    """

    def deco(fn):
        e = _entry(cls_or_name)
        e.forward = fn
        e.layer = e.layer or layer
        if n_inputs is not None:
            e.n_inputs = n_inputs
        if notes:
            e.notes = notes
        e.builtin = fn.__module__.startswith("scikinc.")
        return fn

    return deco


def register_inverse(cls_or_name):
    """Decorator registering the converter of ``obj.inverse_transform``."""

    def deco(fn):
        _entry(cls_or_name).inverse = fn
        return fn

    return deco


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    from . import converters

    for mod in pkgutil.iter_modules(converters.__path__):
        importlib.import_module(f"{converters.__name__}.{mod.name}")
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        target = ep.load()
        if callable(target) and not isinstance(target, type(importlib)):
            target()


def find(obj) -> Converter | None:
    """The converter for ``obj`` (first match along its class MRO), or None."""
    _load_all()
    for cls in type(obj).__mro__:
        e = _REGISTRY.get(qualname(cls))
        if e is not None and e.forward is not None:
            return e
    return None


def find_name(key: str) -> Converter | None:
    """The converter registered under ``key`` (e.g. ``"keras.layers.Dense"``), or None."""
    _load_all()
    e = _REGISTRY.get(key)
    return e if e is not None and e.forward is not None else None


def lookup(obj) -> Converter:
    """The converter for ``obj`` (first match along its class MRO)."""
    e = find(obj)
    if e is not None:
        return e
    raise UnsupportedModelError(
        f"cannot convert an object of class {qualname(type(obj))}: no converter is registered for it. "
        f"Supported classes: {', '.join(supported_names())}. "
        "Custom classes can be added with @scikinc.register_converter(YourClass) "
        f"or a '{ENTRY_POINT_GROUP}' entry point (see the README)."
    )


def supported(*, layers: bool = False) -> list[Converter]:
    """Converters of whole models (``layers=True``: of layers inside models)."""
    _load_all()
    return sorted((e for e in _REGISTRY.values() if e.forward is not None and e.layer == layers),
                  key=lambda e: e.key)


def supported_names() -> list[str]:
    return sorted({e.key.rsplit(".", 1)[-1] for e in supported()})
