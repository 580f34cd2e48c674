"""Graph rewrites that make the generated code smaller and faster.

* identity ``Affine`` ops disappear;
* an ``Affine`` feeding only a ``Dense`` folds into the dense weights;
* a ``Dense`` feeding only an ``Affine`` absorbs it.

Both folds are exact in real arithmetic; in floating point they change the
rounding of the affected layer by an ulp or so.
"""
from __future__ import annotations

from .ir import Affine, Dense, Graph, Value


def _replace_uses(g: Graph, old: Value, new: Value) -> None:
    for op in g.ops:
        op.inputs = [new if v is old else v for v in op.inputs]
    if g.output is old:
        g.output = new


def fold_affine_into_dense(g: Graph, aff: Affine, d: Dense) -> None:
    """``aff`` feeds only ``d``: (x*a + b) W + c = x (diag(a) W) + (b W + c)."""
    a, b = aff.as_scale_shift()
    d.b = d.b + b @ d.W
    d.W = a[:, None] * d.W
    d.inputs = [aff.inputs[0]]
    g.ops.remove(aff)


def absorb_affine(g: Graph, d: Dense, aff: Affine) -> None:
    """``d`` feeds only ``aff``: (x W + c)*a + b = x (W diag(a)) + (c*a + b)."""
    a, b = aff.as_scale_shift()
    d.W = d.W * a[None, :]
    d.b = d.b * a + b
    g.ops.remove(aff)
    _replace_uses(g, aff.output, d.output)


def optimize(g: Graph) -> None:
    changed = True
    while changed:
        changed = False
        uses = g.consumers()
        for op in list(g.ops):
            if isinstance(op, Affine) and op.is_identity():
                g.ops.remove(op)
                _replace_uses(g, op.output, op.inputs[0])
                changed = True
                break
            if isinstance(op, Affine) and op.output is not g.output:
                users = uses.get(op.output, [])
                if len(users) == 1 and isinstance(users[0], Dense) and users[0].inputs[0] is op.output:
                    fold_affine_into_dense(g, op, users[0])
                    changed = True
                    break
            if isinstance(op, Dense) and op.output is not g.output:
                users = uses.get(op.output, [])
                if len(users) == 1 and isinstance(users[0], Affine):
                    absorb_affine(g, op, users[0])
                    changed = True
                    break
    # keep Value.producer consistent for later passes/renderer
    for op in g.ops:
        op.output.producer = op
