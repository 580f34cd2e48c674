"""Converter options, scoped per symbol and per step.

Converters read options with ``ctx.option(key, default)`` (or
``ctx.option(key, default, choices=(...))`` when only some values make sense
for them).  Users give them as ``convert(..., options={...})`` or
``scikinC --option KEY=VALUE``:

* ``{"output": "class"}`` -- unscoped: every converter reading ``output``;
* ``{"a": {"output": "class"}}`` or ``{"a.output": "class"}`` -- scoped to the
  symbol ``a`` (everything inside it);
* ``{"a": {"clf": {"output": "class"}}}``, ``{"a": {"clf.output": "class"}}``
  or ``{"a.clf.output": "class"}`` -- scoped to the step ``clf`` of ``a``.

A ``dict`` value opens a scope and a ``.`` separates scopes; the first name
of a scope is a symbol, the next ones are step names: Pipeline steps,
ColumnTransformer / FeatureUnion parts, ``regressor``/``transformer`` of a
TransformedTargetRegressor, ``preprocessing``/``generator``/``postprocessing``
of a ``Generative``, ``preprocessing``/``model`` of a ``Classifier``.

Resolution, for a converter at scope ``(a, clf)`` reading ``output``: the
value of the most specific of ``a.clf.output``, ``a.output``, ``output`` that
the converter accepts (its ``choices``), else the converter's default.  So an
unscoped ``output=class`` switches every classifier to class indices while
regressors, which have no such output, keep theirs.

After conversion, every option given must be accepted by at least one
converter inside its scope (reads the key and accepts the value, even if a
more specific option overrides it there), otherwise
:class:`~scikinc.OptionError`:

* a scope naming an unknown symbol or step (the message lists the known ones);
* a value no converter in the scope accepts (the converter's message, with
  the values it accepts);
* a key no converter in the scope reads (a typo; the message lists the keys
  the converters there read).

The same option given twice (``{"a.output": ..., "a": {"output": ...}}``)
with different values is an error as well.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import OptionError

Scope = tuple  # tuple[str, ...]: () is the unscoped level, (symbol, step, ...) below


def dotted(path: Scope, key: str | None = None) -> str:
    return ".".join(tuple(path) + ((key,) if key is not None else ()))


def _same(a, b) -> bool:
    if a is b:
        return True
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:  # arrays and other exotic values: identity only
        return False


def _accepts(choices, value) -> bool:
    if choices is None:
        return True
    return any(_same(value, c) for c in choices)


def normalise(options) -> dict[Scope, dict[str, Any]]:
    """``{scope path: {key: value}}`` from the nested / dotted user form
    (every scope that was opened is present, possibly empty)."""
    out: dict[Scope, dict[str, Any]] = {}
    if options is None:
        return out
    if not isinstance(options, Mapping):
        raise OptionError(f"options must be a dict such as {{'output': 'class'}} or "
                          f"{{'symbol': {{'output': 'class'}}}}, got {type(options).__name__}")

    def walk(m: Mapping, path: Scope) -> None:
        out.setdefault(path, {})
        for k, v in m.items():
            if not isinstance(k, str) or not k:
                raise OptionError(f"option names must be non-empty strings, got {k!r}"
                                  + (f" in the scope {dotted(path)!r}" if path else ""))
            parts = tuple(k.split("."))
            if any(not p or p != p.strip() for p in parts):
                raise OptionError(f"option {dotted(path, k)!r}: empty name or blanks between dots")
            if isinstance(v, Mapping):
                walk(v, path + parts)
                continue
            scope, key = path + parts[:-1], parts[-1]
            d = out.setdefault(scope, {})
            if key in d and not _same(d[key], v):
                raise OptionError(f"option {dotted(scope, key)!r} is given twice, as {d[key]!r} and {v!r}")
            d[key] = v

    walk(options, ())
    return out


def resolve(options, path: Scope) -> dict[str, Any]:
    """The options seen from ``path`` (inner scopes win), without the
    per-converter ``choices``: for code that mirrors a converter in Python
    (:mod:`scikinc.validation`)."""
    norm = options if isinstance(options, dict) and all(isinstance(k, tuple) for k in options) \
        else normalise(options)
    seen: dict[str, Any] = {}
    for i in range(len(path) + 1):
        seen.update(norm.get(tuple(path[:i]), {}))
    return seen


class OptionTracker:
    """The options of one conversion, and which converter took which."""

    def __init__(self, options):
        self.values = normalise(options)
        self.children: dict[Scope, list[str]] = {(): []}  # scope -> names entered below it
        self.kinds: dict[Scope, str] = {}                 # scope -> class converted there
        self.reads: dict[Scope, set[str]] = {}            # scope -> keys read there
        self.accepted: set[tuple[Scope, str]] = set()
        self.refused: dict[tuple[Scope, str], str] = {}

    # -- during conversion ------------------------------------------------
    def enter(self, path: Scope, name: str) -> Scope:
        kids = self.children.setdefault(path, [])
        if name not in kids:
            kids.append(name)
        sub = path + (name,)
        self.children.setdefault(sub, [])
        return sub

    def visit(self, path: Scope, kind: str) -> None:
        self.kinds.setdefault(path, kind)

    def get(self, path: Scope, key: str, default, choices, kind: str | None):
        """The innermost value of ``key`` seen from ``path`` that ``choices``
        accepts, else ``default``; every value on the way is marked accepted
        (even when a more specific one overrides it) or refused."""
        self.reads.setdefault(path, set()).add(key)
        found, result = False, default
        for i in range(len(path), -1, -1):
            scope = path[:i]
            vals = self.values.get(scope)
            if not vals or key not in vals:
                continue
            v = vals[key]
            if _accepts(choices, v):
                self.accepted.add((scope, key))
                if not found:
                    found, result = True, v
            else:
                at = f" (at {dotted(path)})" if path else ""
                who = f"{kind}: " if kind else ""
                self.refused.setdefault((scope, key), (
                    f"{who}{dotted(scope, key)}={v!r} is not available{' for this model' if kind else ''}; "
                    f"choose one of {', '.join(repr(c) for c in choices)}{at}"))
        return result

    # -- checks -------------------------------------------------------------
    def check_symbols(self, symbols) -> None:
        """Before conversion: the first name of every scope is a symbol."""
        symbols = list(symbols)
        for scope in self.values:
            if scope and scope[0] not in symbols:
                raise OptionError(f"option scope {dotted(scope)!r} names no symbol: {scope[0]!r} is unknown; "
                                  f"the symbols are: {', '.join(symbols)}")

    def _where(self, path: Scope) -> str:
        kind = self.kinds.get(path)
        return f"{dotted(path)!r}" + (f" ({kind})" if kind else "")

    def check(self) -> None:
        """After conversion: every option was accepted by some converter in its scope."""
        for scope in self.values:
            for i in range(1, len(scope) + 1):
                if scope[:i] not in self.children:
                    parent, name = scope[:i - 1], scope[i - 1]
                    kids = self.children.get(parent, [])
                    what = "symbol" if not parent else "step"
                    known = (f"its steps are: {', '.join(kids)}" if kids and parent
                             else f"the symbols are: {', '.join(kids)}" if kids
                             else "it has no steps")
                    where = f" of {self._where(parent)}" if parent else ""
                    raise OptionError(f"option scope {dotted(scope)!r}: no {what} {name!r}{where}; {known}")
        for scope, vals in self.values.items():
            for key in vals:
                if (scope, key) in self.accepted:
                    continue
                if (scope, key) in self.refused:
                    raise OptionError(self.refused[(scope, key)])
                read = sorted({k for p, ks in self.reads.items() if p[:len(scope)] == scope for k in ks})
                where = f" in {self._where(scope)}" if scope else ""
                hint = (f"the converters{where or ' here'} read: {', '.join(read)}" if read
                        else f"no converter{where or ' here'} reads any option")
                raise OptionError(f"option {dotted(scope, key)!r} is not read by any converter{where} "
                                  f"(misspelt?); {hint}")
