"""Recurrent layers: SimpleRNN, LSTM, GRU (and ``RNN`` over their cells),
Bidirectional.

Each layer becomes two ops: the input projection ``x_t W + b`` of every
time step at once (one PositionDense, the kernel stored once), then the
recurrence (:class:`~scikinc.ir.recurrent.Recurrent`: the recurrent kernel,
the gates and the state in stack arrays).  Dropout and recurrent dropout do
nothing at inference; ``unroll`` changes nothing.  Refused with a clear
error: masks (a Masking layer, ``Embedding(mask_zero=True)``), ``stateful``,
``return_state``, an initial state, ``time_major``.
"""
from __future__ import annotations

import numpy as np

from ...errors import ConversionError, UnsupportedModelError
from ...ir import Binary, Concat, Dense, Value
from ...ir.keras import PositionDense
from ...ir.recurrent import Recurrent
from .activations import activation_spec
from .graph import _keras2, _node_inputs
from .layers import _layer, _np, concatenate

_CELLS = {"SimpleRNNCell": "simple", "LSTMCell": "lstm", "GRUCell": "gru"}


def _check_call(call, layer) -> tuple[int, int]:
    """Refuse what scikinc does not convert; (n_steps, features) of the input."""
    where = call.where()
    mask = call.kwargs.get("mask") is not None or any(
        getattr(t, "_keras_mask", None) is not None for t in _node_inputs(call.node))
    if mask:
        raise UnsupportedModelError(
            f"{where}: its input carries a mask (a Masking layer or Embedding(mask_zero=True) before it); "
            "masked recurrent layers are not supported: remove the masking (pad the sequences, or "
            "convert the model without the Masking layer / with mask_zero=False)")
    if call.kwargs.get("initial_state") is not None or len(call.vals) != 1:
        raise UnsupportedModelError(f"{where}: an initial state (or any second input) is not supported; "
                                    "scikinc's recurrent layers start from a zero state")
    for attr, what in (("stateful", "stateful=True (state kept between calls)"),
                       ("return_state", "return_state=True (the states as extra outputs)"),
                       ("time_major", "time_major=True")):
        if getattr(layer, attr, False):
            raise UnsupportedModelError(f"{where}: {what} is not supported")
    dims = call.in_dims[0]
    if len(dims) != 2:
        raise UnsupportedModelError(f"{where}: input shape {call.in_shapes[0]} (expected (batch, steps, "
                                    "features))")
    return int(dims[0]), int(dims[1])


def _acts(cell, kind: str, where: str):
    k2 = _keras2(cell)
    acts = [activation_spec(getattr(cell, "activation", None), k2, where)]
    acts.append(activation_spec(getattr(cell, "recurrent_activation", None), k2, where)
                if kind != "simple" else ("linear", {}))
    for a, _ in acts:
        if a in ("softmax", "log_softmax"):
            raise UnsupportedModelError(f"{where}: {a} as a recurrent cell activation is not supported")
    return acts


def recurrent(call, g, layer, x: Value, n_steps: int, n_in: int, reverse_out: bool = False) -> Value:
    """The ops of one recurrent layer (SimpleRNN, LSTM, GRU, RNN(cell)) on
    the sequence ``x`` (``[n_steps][n_in]``)."""
    where = call.where()
    cell = getattr(layer, "cell", layer)
    kind = _CELLS.get(type(cell).__name__)
    if kind is None:
        raise UnsupportedModelError(f"{where}: cell {type(cell).__name__} is not supported (only "
                                    f"{', '.join(sorted(_CELLS))})")
    W, U = np.asarray(_np(cell.kernel)), np.asarray(_np(cell.recurrent_kernel))
    units = int(U.shape[0])
    G = Recurrent.GATES[kind]
    if W.shape != (n_in, G * units) or U.shape != (units, G * units):
        raise ConversionError(f"{where}: kernel {W.shape} / recurrent kernel {U.shape} do not fit "
                              f"{n_in} features and {units} units")
    bias = _np(cell.bias) if getattr(cell, "use_bias", True) and getattr(cell, "bias", None) is not None else None
    reset_after = bool(getattr(cell, "reset_after", True)) if kind == "gru" else True
    rb = None
    if bias is not None and kind == "gru" and reset_after:
        bias = bias.reshape(2, G * units)
        bias, rb = bias[0], bias[1]
    act, ract = _acts(cell, kind, where)
    xp = g.add(PositionDense(W, bias, n_steps) if n_steps > 1 else Dense(W, bias), x)
    return g.add(Recurrent(kind, U, n_steps, act, ract, rb, reset_after,
                           backwards=bool(getattr(layer, "go_backwards", False)),
                           sequences=bool(getattr(layer, "return_sequences", False)),
                           reverse_out=reverse_out), xp)


@_layer("SimpleRNN", "LSTM", "GRU", "RNN")
def _rnn(call, g):
    n_steps, n_in = _check_call(call, call.layer)
    if type(call.layer).__name__ == "RNN" and isinstance(getattr(call.layer, "cell", None), (list, tuple)):
        raise UnsupportedModelError(f"{call.where()}: RNN over a list of cells (stacked) is not supported; "
                                    "use one recurrent layer per cell")
    return recurrent(call, g, call.layer, call.x(), n_steps, n_in)


_MERGE = {"sum": "add", "mul": "mul", "ave": "avg"}


@_layer("Bidirectional")
def _bidirectional(call, g):
    L = call.layer
    n_steps, n_in = _check_call(call, L)
    fwd, bwd = L.forward_layer, L.backward_layer
    for sub in (fwd, bwd):
        if getattr(sub, "stateful", False) or getattr(sub, "return_state", False):
            raise UnsupportedModelError(f"{call.where()}: stateful / return_state inner layers are not supported")
    seq = bool(getattr(L, "return_sequences", False))
    x = call.x()
    with g.scope("forward"):
        y = recurrent(call, g, fwd, x, n_steps, n_in)
    with g.scope("backward"):
        y_rev = recurrent(call, g, bwd, x, n_steps, n_in, reverse_out=seq)  # Keras flips it back
    mode = L.merge_mode
    if mode is None:
        return [y, y_rev]
    if mode == "concat":
        if not seq:
            return g.add(Concat(), y, y_rev)
        u1, u2 = y.width // n_steps, y_rev.width // n_steps
        return concatenate(call, g, [y, y_rev], [(n_steps, u1), (n_steps, u2)], -1)
    if mode in _MERGE:
        return g.add(Binary(_MERGE[mode]), y, y_rev)
    raise UnsupportedModelError(f"{call.where()}: merge_mode={mode!r}")
