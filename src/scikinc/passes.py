"""The pass pipeline: graph rewrites between the converters and the renderer.

Converters emit plain ops (``Affine``, ``Dense``, ``Activation``,
``Binary``...); :func:`optimize` runs, in this order:

1. :func:`fold_affines` (to a fixed point): identity ``Affine`` ops vanish; an
   ``Affine`` feeding only a ``Dense`` folds into its weights; a ``Dense``
   feeding only an ``Affine`` absorbs it.  Both folds are exact in real
   arithmetic; in floating point they change the rounding of the affected
   layer by an ulp or so.  A per-channel ``Affine`` (BatchNormalization) read
   only from a ``Conv``/``ConvTranspose`` (directly or through the permutation
   back to ``channels_first``) folds into its kernel and bias.
2. :func:`fuse_dense_epilogue` (to a fixed point, unless ``fuse=False``): a
   ``Dense`` whose only user is a cheap activation (:data:`FUSABLE`) takes it
   into its epilogue; a ``Dense`` whose only user is a two-input ``add`` takes
   the other addend as its ``residual``.  Bitwise the same results as the
   separate ops, one pass over the outputs fewer.

The folds run first so that a scaler in front of a network (sklearn
``StandardScaler`` + Keras ``Dense`` or ``MLPRegressor``) is folded whatever
activation follows: both give the same C.
"""
from __future__ import annotations

import numpy as np

from .ir import Activation, Affine, Binary, Dense, Gather, Graph, Op, Value
from .ir.keras import Conv, ConvTranspose

#: activations the dense epilogue computes on registers (cheap, no libm call)
FUSABLE = frozenset({"linear", "relu", "relu6", "leaky_relu", "hard_sigmoid", "hard_sigmoid_k2", "hard_silu",
                     "hard_tanh"})


def _replace_uses(g: Graph, old: Value, new: Value) -> None:
    for op in g.ops:
        op.inputs = [new if v is old else v for v in op.inputs]
    if g.output is old:
        g.output = new


def _plain(d: Op) -> bool:
    return isinstance(d, Dense) and d.activation == "linear" and not d.residual


def fold_affine_into_dense(g: Graph, aff: Affine, d: Dense) -> None:
    """``aff`` feeds only ``d``: (x*a + b) W + c = x (diag(a) W) + (b W + c)."""
    a, b = aff.as_scale_shift()
    d.b = d.b + b @ d.W
    d.W = a[:, None] * d.W
    d.inputs = [aff.inputs[0], *d.inputs[1:]]
    g.ops.remove(aff)


def absorb_affine(g: Graph, d: Dense, aff: Affine) -> None:
    """``d`` feeds only ``aff``: (x W + c)*a + b = x (W diag(a)) + (c*a + b)."""
    a, b = aff.as_scale_shift()
    d.W = d.W * a[None, :]
    d.b = d.b * a + b
    g.ops.remove(aff)
    _replace_uses(g, aff.output, d.output)


def _fold_once(g: Graph) -> bool:
    uses = g.consumers()
    for op in g.ops:
        if isinstance(op, Affine) and op.is_identity():
            g.ops.remove(op)
            _replace_uses(g, op.output, op.inputs[0])
            return True
        if isinstance(op, Affine) and op.output is not g.output:
            users = uses.get(op.output, [])
            if len(users) == 1 and isinstance(users[0], Dense) and users[0].inputs[0] is op.output \
                    and op.output not in users[0].inputs[1:]:
                fold_affine_into_dense(g, op, users[0])
                return True
        if _plain(op) and op.output is not g.output:
            users = uses.get(op.output, [])
            if len(users) == 1 and isinstance(users[0], Affine) and isinstance(op, Dense):
                absorb_affine(g, op, users[0])
                return True
        if isinstance(op, (Conv, ConvTranspose)) and _fold_affine_into_conv(g, op, uses):
            return True
    return False


def _only_user(g: Graph, v: Value, uses) -> Op | None:
    users = uses.get(v, [])
    return users[0] if len(users) == 1 and v is not g.output and users[0].inputs.count(v) == 1 else None


def _fold_affine_into_conv(g: Graph, conv: Conv | ConvTranspose, uses) -> bool:
    """A per-output-channel ``Affine`` (BatchNormalization) read only from a
    ``Conv``/``ConvTranspose`` -- directly, or through a permutation ``Gather``
    (a ``channels_first`` layer's transpose back) -- folds into its kernel and
    bias: ``(x W + c)*a + b = x (W a) + (c a + b)`` per channel."""
    u = _only_user(g, conv.output, uses)
    perm = None
    if isinstance(u, Gather):
        idx = u.index
        if idx.size != conv.output.width or not np.array_equal(np.sort(idx), np.arange(idx.size)):
            return False
        perm, u = idx, _only_user(g, u.output, uses)
    if not isinstance(u, Affine):
        return False
    a, b = u.as_scale_shift()
    if perm is not None:  # the same map before the permutation: position perm[j] of the conv output
        a0, b0 = np.empty_like(a), np.empty_like(b)
        a0[perm], b0[perm] = a, b
        a, b = a0, b0
    A, B = a.reshape(-1, conv.cout), b.reshape(-1, conv.cout)
    if not ((A == A[0]).all() and (B == B[0]).all()):
        return False
    conv.W = conv.W * A[0]
    conv.b = conv.b * A[0] + B[0]
    g.ops.remove(u)
    _replace_uses(g, u.output, u.inputs[0])
    return True


def _take_place_of(g: Graph, d: Dense, u: Op) -> None:
    """``d`` now computes ``u``'s output and runs where ``u`` ran (every input
    of ``u`` is ready there)."""
    d.output = u.output
    u.output.producer = d
    g.ops.remove(d)
    g.ops[g.ops.index(u)] = d


def _residual_add(u: Op, v: Value) -> Value | None:
    """The other addend when ``u`` is ``v + r`` (two distinct inputs)."""
    if isinstance(u, Binary) and u.kind == "add" and len(u.inputs) == 2 and u.inputs[0] is not u.inputs[1]:
        return u.inputs[1] if u.inputs[0] is v else u.inputs[0]
    return None


def _fuse_once(g: Graph) -> bool:
    uses = g.consumers()
    for op in g.ops:
        if not isinstance(op, Dense) or op.residual or op.output is g.output:
            continue
        users = uses.get(op.output, [])
        if len(users) != 1:
            continue
        u = users[0]
        if op.activation == "linear" and isinstance(u, Activation) and u.kind in FUSABLE:
            op.fuse_activation(u)
            _take_place_of(g, op, u)
            return True
        r = _residual_add(u, op.output)
        if r is not None:
            op.residual = True
            op.inputs = [op.inputs[0], r]
            _take_place_of(g, op, u)
            return True
    return False


def fold_affines(g: Graph) -> None:
    while _fold_once(g):
        pass


def fuse_dense_epilogue(g: Graph) -> None:
    while _fuse_once(g):
        pass


def lower_trees(g: Graph) -> None:
    """Replace every strategy-free ``TreeEnsemble`` by the op of its
    evaluation strategy (:func:`scikinc.ir.trees.lower`: the ``tree_codegen``
    asked for or the auto choice, with the trees laid out in its tables).
    Not an optimisation: the renderer has no template for ``TreeEnsemble``,
    so :func:`scikinc.core.finish` runs this on every graph."""
    from .ir.trees import TreeEnsemble, lower

    for k, op in enumerate(g.ops):
        if isinstance(op, TreeEnsemble):
            new = lower(op)
            new.inputs, new.output = op.inputs, op.output
            new.output.producer = new
            g.ops[k] = new


def optimize(g: Graph, *, fuse: bool = True) -> None:
    """Run the pass pipeline over ``g`` in place."""
    fold_affines(g)
    if fuse:
        fuse_dense_epilogue(g)
    # keep Value.producer consistent for later passes and the renderer
    for op in g.ops:
        op.output.producer = op
