"""A tiny intermediate representation: a DAG of vector operations.

A converter never writes C.  It receives a :class:`Graph`, the :class:`Value`
holding its input row, and appends ops; it returns the :class:`Value` holding
its output.  Pipelines are plain function composition over this interface,
Keras graphs map one layer to one (or a few) ops, and the renderer turns the
finished graph into C by filling one template per op kind.

An op is a small object carrying numbers (numpy arrays, floats, ints) and the
name of its template.  Ops that compute ``out[i]`` from ``in[i]`` alone say so
with ``elementwise = True``: the renderer may then run them in place.
"""
from __future__ import annotations

from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ConversionError


@dataclass(eq=False)
class Value:
    """A vector of ``width`` numbers produced by an op (or a graph input)."""

    width: int
    id: int
    producer: Op | None = field(default=None, repr=False)

    def __hash__(self) -> int:  # identity semantics
        return id(self)


class Op:
    """Base class of IR ops.

    Subclasses set ``template`` (path below ``templates/``) and keep their
    numbers as attributes; the template reads them as ``op.<attr>``.
    ``helpers`` names static helper functions (``templates/helpers/NAME.c.j2``)
    the op's code calls; they are emitted once per file.
    """

    template: str = ""
    elementwise: bool = False
    #: marks ops worth compiling once per ISA level (GCC target_clones)
    hot: bool = False
    helpers: Sequence[str] = ()

    inputs: list[Value]
    output: Value
    #: where the op comes from ("step.layer"), set by Graph.add from Graph.scope
    label: str = ""

    def out_width(self, in_widths: Sequence[int]) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> str:
        return type(self).__name__

    def expect_widths(self, got: Sequence[int], want: Sequence[int]) -> None:
        """Raise a ConversionError unless the input widths are ``want``."""
        if list(got) != list(want):
            raise ConversionError(f"{self.describe()}: built for input widths {list(want)}, got {list(got)}")


class Graph:
    """Ops in execution (topological) order with named graph inputs."""

    def __init__(self, n_inputs: int, name: str = "in"):
        self._next = 0
        self._scope: list[str] = []
        self.ops: list[Op] = []
        self.inputs: list[tuple[str, Value]] = []
        self.output: Value | None = None
        #: exported metadata of the entry built from this graph: symbol suffix ->
        #: int or list of ints (e.g. Keras tensor shapes, ``name_input_shapes``)
        self.meta: dict[str, int | list[int]] = {}
        self.add_input(name, n_inputs)

    # -- construction -----------------------------------------------------
    def _value(self, width: int) -> Value:
        v = Value(int(width), self._next)
        self._next += 1
        return v

    def add_input(self, name: str, width: int) -> Value:
        if int(width) <= 0:
            raise ConversionError(f"graph input {name!r} must have a positive width, got {width}")
        v = self._value(width)
        self.inputs.append((name, v))
        return v

    @contextmanager
    def scope(self, name: str | None):
        """Ops added inside carry ``name`` in their ``label`` (a Pipeline step,
        a Keras layer: it names the op in the C comments and static tables)."""
        if name:
            self._scope.append(str(name))
        try:
            yield
        finally:
            if name:
                self._scope.pop()

    @contextmanager
    def at(self, path):
        """Ops added inside are labelled ``path`` (a tuple of scope names,
        replacing the current ones; :meth:`scope` nests inside it)."""
        prev = self._scope
        self._scope = [str(p) for p in path]
        try:
            yield
        finally:
            self._scope = prev

    @property
    def input(self) -> Value:
        return self.inputs[0][1]

    def add(self, op: Op, *inputs: Value) -> Value:
        """Append ``op`` reading ``inputs``; returns its output value."""
        for v in inputs:
            if not isinstance(v, Value):
                raise ConversionError(f"{op.describe()}: inputs must be Values, got {type(v).__name__}")
        width = op.out_width([v.width for v in inputs])
        op.inputs = list(inputs)
        if not op.label:
            op.label = ".".join(self._scope)
        op.output = self._value(width)
        op.output.producer = op
        self.ops.append(op)
        return op.output

    # -- queries ----------------------------------------------------------
    def consumers(self) -> dict[Value, list[Op]]:
        uses: dict[Value, list[Op]] = {}
        for op in self.ops:
            for v in op.inputs:
                uses.setdefault(v, []).append(op)
        return uses

    def prune(self) -> None:
        """Drop ops whose result never reaches the output."""
        needed = {self.output}
        kept = []
        for op in reversed(self.ops):
            if op.output in needed:
                kept.append(op)
                needed.update(op.inputs)
        self.ops = kept[::-1]


# ---------------------------------------------------------------------------
# Generic ops shared by many converters.
# ---------------------------------------------------------------------------


def _vec(a: Any, n: int | None = None, name: str = "vector") -> np.ndarray:
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    if n is not None and a.size == 1 and n != 1:
        a = np.full(n, float(a[0]))
    if n is not None and a.size != n:
        raise ConversionError(f"{name}: expected {n} values, got {a.size}")
    return a


class Affine(Op):
    """``y = ((x - sub) / div) * mul + add`` per element; absent terms skipped.

    Keeping subtraction/division distinct from multiplication/addition lets
    each converter reproduce the exact operation order of the library it
    mirrors (sklearn's StandardScaler divides, MinMaxScaler multiplies).
    """

    template = "ops/affine.c.j2"
    elementwise = True

    def __init__(self, n: int, *, sub=None, div=None, mul=None, add=None):
        self.n = int(n)
        self.sub = None if sub is None else _vec(sub, self.n, "sub")
        self.div = None if div is None else _vec(div, self.n, "div")
        self.mul = None if mul is None else _vec(mul, self.n, "mul")
        self.add = None if add is None else _vec(add, self.n, "add")

    def out_width(self, w):
        self.expect_widths(w, [self.n])
        return self.n

    def is_identity(self) -> bool:
        return all(
            t is None or np.all(t == neutral)
            for t, neutral in ((self.sub, 0), (self.div, 1), (self.mul, 1), (self.add, 0))
        )

    def as_scale_shift(self) -> tuple[np.ndarray, np.ndarray]:
        """The same map written as ``x * a + b`` (for folding into Dense)."""
        a = np.ones(self.n)
        b = np.zeros(self.n)
        if self.sub is not None:
            b = b - self.sub
        if self.div is not None:
            a, b = a / self.div, b / self.div
        if self.mul is not None:
            a, b = a * self.mul, b * self.mul
        if self.add is not None:
            b = b + self.add
        return a, b


class Clip(Op):
    """Clamp each element to ``[lo, hi]``; NaN passes through (like np.clip)."""

    template = "ops/clip.c.j2"
    elementwise = True

    def __init__(self, n: int, lo, hi):
        self.n = int(n)
        self.lo = _vec(lo, self.n, "lo")
        self.hi = _vec(hi, self.n, "hi")

    def out_width(self, w):
        return self.n


class Dense(Op):
    """``y = f(x @ W + b) [+ r]`` with ``W`` of shape ``[n_in][n_out]`` (axpy layout).

    ``activation`` (an :class:`Activation` kind, ``"linear"`` by default) and
    ``residual`` (a second input ``r`` added after the activation) are filled
    by :func:`scikinc.passes.fuse_dense_epilogue`: converters emit plain
    Dense, Activation and Binary("add") ops and the pass fuses them, so the
    activation and the add run on registers in the dense epilogue.
    """

    template = "ops/dense.c.j2"
    hot = True

    def __init__(self, W, b=None):
        self.W = np.asarray(W, dtype=np.float64)
        if self.W.ndim != 2:
            raise ConversionError(f"Dense weights must be 2-D, got shape {self.W.shape}")
        self.n_in, self.n_out = self.W.shape
        self.b = np.zeros(self.n_out) if b is None else _vec(b, self.n_out, "bias")
        self.activation = "linear"
        self.params: dict = {}
        self.residual = False
        self.helpers = ()

    def fuse_activation(self, act: Activation) -> None:
        self.activation, self.params, self.helpers = act.kind, dict(act.params), tuple(act.helpers)

    def out_width(self, w):
        self.expect_widths(w, [self.n_in, self.n_out] if self.residual else [self.n_in])
        return self.n_out

    def describe(self):
        return "Dense" + ("" if self.activation == "linear" else f"+{self.activation}") + (
            "+add" if self.residual else "")


class Gather(Op):
    """``y[j] = x[index[j]]`` (column selection / permutation / duplication)."""

    template = "ops/gather.c.j2"

    def __init__(self, index):
        self.index = np.asarray(index, dtype=np.int64).reshape(-1)

    def out_width(self, w):
        if self.index.size and (self.index.min() < 0 or self.index.max() >= w[0]):
            raise ConversionError(f"column index out of range for a {w[0]}-wide input")
        return int(self.index.size)


class Concat(Op):
    """Concatenate all inputs in order."""

    template = "ops/concat.c.j2"

    def out_width(self, w):
        return int(sum(w))


class Constant(Op):
    """A constant vector (e.g. a model that ignores its input)."""

    template = "ops/constant.c.j2"

    def __init__(self, values):
        self.values = _vec(values)

    def out_width(self, w):
        return int(self.values.size)


class Activation(Op):
    """Elementwise activation ``y = f(x)``.

    ``kind`` names a macro in ``templates/ops/activation.c.j2``; ``params``
    holds its scalar parameters (e.g. ``alpha`` for leaky_relu).  Kinds that
    need a static helper function list it in ``HELPERS``.
    """

    template = "ops/activation.c.j2"
    elementwise = True
    KINDS = {"linear", "relu", "leaky_relu", "sigmoid", "tanh", "exp", "log", "sqrt", "abs",
             "square", "negative", "reciprocal",
             # Keras activations (formulas in templates/ops/activation.c.j2)
             "relu6", "relu_full", "elu", "selu", "gelu", "gelu_tanh", "hard_sigmoid",
             "hard_sigmoid_k2", "hard_silu", "silu", "mish", "softplus", "softsign",
             "hard_tanh", "log_sigmoid", "celu"}
    HELPERS = {"sigmoid": ("sigmoid",), "silu": ("sigmoid",), "softplus": ("softplus",),
               "mish": ("softplus",), "log_sigmoid": ("softplus",)}

    def __init__(self, kind: str, **params):
        if kind not in self.KINDS:
            raise ConversionError(f"unknown activation {kind!r}; known: {sorted(self.KINDS)}")
        self.kind = kind
        self.params = {k: float(v) if isinstance(v, (int, float, np.floating)) else v
                       for k, v in params.items()}
        self.helpers = self.HELPERS.get(kind, ())

    def out_width(self, w):
        return w[0]

    def describe(self):
        return f"Activation({self.kind})"


class Softmax(Op):
    """``y = exp(x - max x) / sum`` over the whole vector (``log=True``:
    log-softmax).  Max-subtracted: never overflows."""

    template = "ops/softmax.c.j2"

    def __init__(self, log: bool = False):
        self.log = bool(log)

    def out_width(self, w):
        return w[0]


class Binary(Op):
    """Elementwise combination of two or more equally wide inputs:
    ``add``, ``sub`` (first minus second), ``mul``, ``max``, ``min``, ``avg``."""

    template = "ops/binary.c.j2"
    elementwise = True
    KINDS = ("add", "sub", "mul", "max", "min", "avg")

    def __init__(self, kind: str):
        if kind not in self.KINDS:
            raise ConversionError(f"unknown elementwise combination {kind!r}")
        self.kind = kind

    def out_width(self, w):
        if len(set(w)) != 1 or (self.kind == "sub" and len(w) != 2) or len(w) < 2:
            raise ConversionError(f"{self.kind}: inputs must be 2+ vectors of equal width, got {w}")
        return w[0]

    def describe(self):
        return f"Binary({self.kind})"
