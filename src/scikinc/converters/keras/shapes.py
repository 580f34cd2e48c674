"""Index arithmetic on flat row-major tensors (batch dimension dropped).

Every Keras tensor is one flat IR Value; a layer that only moves values
(Permute, RepeatVector, Concatenate on an inner axis, broadcasting, Cropping,
UpSampling...) becomes one :class:`~scikinc.ir.Gather` whose index table is
computed here with numpy on the index tensor ``arange(size).reshape(dims)``.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...errors import ConversionError, UnsupportedModelError
from ...ir import Gather, Graph, Value


def size(dims: Sequence[int]) -> int:
    return int(np.prod(dims)) if len(dims) else 1


def index(dims: Sequence[int]) -> np.ndarray:
    """The flat position of every element of a tensor of shape ``dims``."""
    return np.arange(size(dims)).reshape(tuple(dims))


def gather(g: Graph, x: Value, idx: np.ndarray) -> Value:
    """``y = x[idx]`` (flattened), or ``x`` itself when that is the identity."""
    flat = np.asarray(idx, dtype=np.int64).reshape(-1)
    if flat.size == x.width and np.array_equal(flat, np.arange(x.width)):
        return x
    return g.add(Gather(flat), x)


def permute(g: Graph, x: Value, dims: Sequence[int], perm: Sequence[int]) -> Value:
    """The tensor with its axes reordered: output axis ``k`` is input axis ``perm[k]``."""
    return gather(g, x, index(dims).transpose(tuple(perm)))


def broadcast(g: Graph, x: Value, dims: Sequence[int], out: Sequence[int], where: str) -> Value:
    """``x`` of shape ``dims`` broadcast to ``out`` (missing leading axes are 1,
    as Keras' merge layers and numpy do)."""
    dims = (1,) * (len(out) - len(dims)) + tuple(dims)
    try:
        idx = np.broadcast_to(index(dims), tuple(out))
    except ValueError:
        raise UnsupportedModelError(f"{where}: cannot broadcast shape {dims} to {tuple(out)}") from None
    return gather(g, x, idx)


def broadcast_shape(shapes: Sequence[Sequence[int]], where: str) -> tuple[int, ...]:
    try:
        return tuple(int(d) for d in np.broadcast_shapes(*[tuple(s) for s in shapes]))
    except ValueError:
        raise UnsupportedModelError(f"{where}: shapes {[tuple(s) for s in shapes]} do not broadcast") from None


def full(a, dims: Sequence[int], where: str, what: str = "parameter") -> np.ndarray:
    """A constant array broadcast over a tensor of shape ``dims``, flattened
    (a leading batch axis of 1 is dropped)."""
    a = np.asarray(a, dtype=np.float64)
    dims = tuple(dims)
    while a.ndim > len(dims) and a.shape[0] == 1:
        a = a[0]
    try:
        if np.broadcast_shapes(a.shape, dims) != dims:
            raise ValueError
        return np.broadcast_to(a, dims).reshape(-1)
    except ValueError:
        raise UnsupportedModelError(f"{where}: {what} of shape {a.shape} does not broadcast over {dims}") from None


def along(v, dims: Sequence[int], axis: int) -> np.ndarray:
    """A per-channel vector ``v`` (one value per index of ``axis``) spread over
    the whole tensor, flattened."""
    v = np.asarray(v, dtype=np.float64).reshape(-1)
    shape = [1] * len(dims)
    shape[axis] = dims[axis]
    if v.size == 1:
        v = np.full(dims[axis], v[0])
    if v.size != dims[axis]:
        raise ConversionError(f"{v.size} values for an axis of {dims[axis]}")
    return np.broadcast_to(v.reshape(shape), tuple(dims)).reshape(-1)


def to_last(dims: Sequence[int], axes: Sequence[int]) -> tuple[list[int], list[int]]:
    """The permutation moving ``axes`` (ascending) to the end, and its inverse."""
    axes = sorted(set(axes))
    perm = [d for d in range(len(dims)) if d not in axes] + list(axes)
    return perm, [int(i) for i in np.argsort(perm)]
