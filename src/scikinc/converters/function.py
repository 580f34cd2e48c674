"""FunctionTransformer: numpy ufuncs with a libm counterpart, identity, and
user C expressions.

A fitted ``FunctionTransformer`` whose ``func`` (``inverse_func``) is not a
supported ufunc can carry the attribute ``func_inC`` (``inverse_func_inC``):
a C expression of the element ``x``, e.g. ``"log(x + 1) / 2"``.  It is
parsed by a small whitelist grammar::

    expr    := term (('+' | '-') term)*
    term    := unary (('*' | '/') unary)*
    unary   := ('+' | '-') unary | primary
    primary := NUMBER | 'x' | FUNC '(' expr (',' expr)* ')' | '(' expr ')'

where FUNC is one of :data:`MATH_FUNCTIONS` (math.h names; the FLOAT_T
variant such as ``expf`` is emitted) and ``M_PI``/``M_E`` are accepted as
numbers.  Anything else (statements, braces, comments, other identifiers,
strings...) raises :class:`~scikinc.ConversionError`; the C is re-emitted
from the parse tree, so nothing the user writes reaches the C file verbatim.
An ``*_inC`` attribute takes precedence over ``func``.

As in sklearn, ``inverse_func=None`` makes the inverse the identity.  An
``inverse_func`` that cannot be translated (and has no ``inverse_func_inC``)
only drops the ``_inverse`` symbol, with a warning.
"""
from __future__ import annotations

import math
import re
import warnings
from typing import NoReturn

import numpy as np
from sklearn.preprocessing import FunctionTransformer

from ..errors import ConversionError, NotInvertible
from ..ir.preprocessing import MATH_FUNCTIONS, Expr
from ..registry import register_converter, register_inverse

CONSTANTS = {"M_PI": math.pi, "M_E": math.e}
MAX_LENGTH = 2000
MAX_DEPTH = 64

_X = ("x",)

# numpy ufunc name -> expression tree of ``x``
UFUNCS = {
    **{n: ("call", n, _X) for n in ("exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt",
                                    "cbrt", "sin", "cos", "tan", "sinh", "cosh", "tanh", "floor",
                                    "ceil", "trunc", "rint", "fabs")},
    **{n: ("call", "a" + n[3:], _X)
       for n in ("arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh")},
    "absolute": ("call", "fabs", _X),
    "negative": ("neg", _X),
    "positive": _X,
    "reciprocal": ("bin", "/", ("num", 1.0), _X),
    "square": ("bin", "*", _X, _X),
    "sign": ("helper", "sign", _X),
    "deg2rad": ("bin", "*", _X, ("num", math.pi / 180)),
    "radians": ("bin", "*", _X, ("num", math.pi / 180)),
    "rad2deg": ("bin", "*", _X, ("num", 180 / math.pi)),
    "degrees": ("bin", "*", _X, ("num", 180 / math.pi)),
}
for _n, _t in list(UFUNCS.items()):
    if _t[0] == "call":
        assert _t[1] in MATH_FUNCTIONS, _n

NOTES = ("func/inverse_func: None or a numpy ufunc with a libm counterpart ("
         + ", ".join(sorted(UFUNCS)) + "); or C expressions in func_inC / inverse_func_inC")

_TOKEN = re.compile(r"\s*(?:(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|(?P<name>[A-Za-z_]\w*)"
                    r"|(?P<op>[-+*/(),]))")


class _Parser:
    def __init__(self, text: str, what: str):
        self.what = what
        self.text = text
        self.toks = []
        pos = 0
        while pos < len(text):
            if text[pos].isspace():
                pos += 1
                continue
            if text.startswith(("/*", "//", "*/"), pos):
                self.fail(f"comments are not allowed (at position {pos})")
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                self.fail(f"unexpected character {text[pos]!r} at position {pos}")
            kind = m.lastgroup or ""
            self.toks.append((kind, m.group(kind), m.start(kind)))
            pos = m.end()
        self.i = 0

    def fail(self, msg) -> NoReturn:
        raise ConversionError(f"{self.what} {self.text!r}: {msg}. Allowed: numbers, x, + - * / ( ), "
                              f"and the math.h functions {', '.join(sorted(MATH_FUNCTIONS))}")

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None, None, len(self.text))

    def take(self, value=None):
        tok = self.peek()
        if tok[0] is None:
            self.fail("unexpected end of expression" if value is None else f"expected {value!r} at the end")
        if value is not None and tok[1] != value:
            self.fail(f"expected {value!r} at position {tok[2]}, found {tok[1]!r}")
        self.i += 1
        return tok

    def parse(self):
        if not self.toks:
            self.fail("empty expression")
        tree = self.expr(0)
        tok = self.peek()
        if tok[0] is not None:
            self.fail(f"unexpected {tok[1]!r} at position {tok[2]}")
        return tree

    def expr(self, depth):
        if depth > MAX_DEPTH:
            self.fail("expression nested too deeply")
        node = self.term(depth)
        while self.peek()[1] in ("+", "-"):
            op = self.take()[1]
            node = ("bin", op, node, self.term(depth))
        return node

    def term(self, depth):
        node = self.unary(depth)
        while self.peek()[1] in ("*", "/"):
            op = self.take()[1]
            node = ("bin", op, node, self.unary(depth))
        return node

    def unary(self, depth):
        if depth > MAX_DEPTH:
            self.fail("expression nested too deeply")
        if self.peek()[1] == "-":
            self.take()
            return ("neg", self.unary(depth + 1))
        if self.peek()[1] == "+":
            self.take()
            return self.unary(depth + 1)
        return self.primary(depth)

    def primary(self, depth):
        kind, val, pos = self.take()
        if kind == "num":
            v = float(val)
            if not math.isfinite(v):
                self.fail(f"number {val!r} is not finite")
            return ("num", v)
        if kind == "name":
            if val == "x":
                return _X
            if val in CONSTANTS:
                return ("num", CONSTANTS[val])
            if val in MATH_FUNCTIONS:
                self.take("(")
                args = [self.expr(depth + 1)]
                while self.peek()[1] == ",":
                    self.take()
                    args.append(self.expr(depth + 1))
                self.take(")")
                if len(args) != MATH_FUNCTIONS[val]:
                    self.fail(f"{val}() takes {MATH_FUNCTIONS[val]} argument(s), got {len(args)}")
                return ("call", val, *args)
            self.fail(f"unknown identifier {val!r} at position {pos}")
        if val == "(":
            node = self.expr(depth + 1)
            self.take(")")
            return node
        self.fail(f"unexpected {val!r} at position {pos}")


def parse_expression(text, what: str = "func_inC"):
    """Parse a C expression of ``x`` into an :class:`Expr` tree (or raise)."""
    if not isinstance(text, str):
        raise ConversionError(f"{what} must be a string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ConversionError(f"{what} is longer than {MAX_LENGTH} characters")
    return _Parser(text, what).parse()


def _tree(obj, func, attr: str):
    """Expression tree for ``func`` or the ``attr`` (``*_inC``) override."""
    text = getattr(obj, attr, None)
    if text is not None:
        return parse_expression(text, attr), attr  # the user's text stays out of the C file
    if func is None:
        return None, "identity"
    if obj.kw_args if attr == "func_inC" else obj.inv_kw_args:
        raise ConversionError(f"FunctionTransformer: {'kw_args' if attr == 'func_inC' else 'inv_kw_args'} "
                              f"are not supported for {getattr(func, '__name__', func)!r}; "
                              f"set the {attr} attribute to an equivalent C expression")
    name = getattr(func, "__name__", None)
    if isinstance(func, np.ufunc) and name in UFUNCS:
        return UFUNCS[name], name
    raise ConversionError(
        f"FunctionTransformer: cannot translate {getattr(func, '__qualname__', repr(func))!r} to C. "
        f"Supported: None or one of the numpy ufuncs {', '.join(sorted(UFUNCS))}; otherwise set "
        f"the attribute {attr} to a C expression of x, e.g. transformer.{attr} = \"log(x + 1)\"")


def _add(g, x, tree, text):
    if tree is None:
        return x
    return g.add(Expr(tree, text), x)


def _n_inputs(obj):
    n = getattr(obj, "n_features_in_", None)
    return None if n is None else int(n)


@register_converter(FunctionTransformer, n_inputs=_n_inputs, notes=NOTES)
def function_transformer(obj, g, x, ctx):
    return _add(g, x, *_tree(obj, obj.func, "func_inC"))


@register_inverse(FunctionTransformer)
def function_transformer_inverse(obj, g, x, ctx):
    # an untranslatable inverse_func costs the inverse symbol only (with a
    # warning), not the forward conversion
    try:
        tree = _tree(obj, obj.inverse_func, "inverse_func_inC")
    except NotInvertible:
        raise
    except ConversionError as e:
        warnings.warn(f"no inverse symbol: {e}", UserWarning, stacklevel=2)
        raise NotInvertible(str(e)) from e
    return _add(g, x, *tree)
