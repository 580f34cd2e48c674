"""The recurrent op of Keras' SimpleRNN, LSTM and GRU layers."""
from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from .core import Activation, Op, _vec


class Recurrent(Op):
    """The recurrence of an RNN layer over ``n_steps`` time steps, its input
    already projected: the input is ``[n_steps][G * units]`` (``x_t W + b``,
    gates in Keras' order, computed for every step by a PositionDense), the
    output ``[n_steps][units]`` (``sequences``) or the last state ``[units]``.

    Per step, ``z = rb + h U`` (``U``: Keras' recurrent kernel
    ``[units][G * units]``, summed left to right over ``h``; ``rb``: GRU's
    recurrent bias, zeros otherwise), then with ``a``/``ra`` the activation
    and recurrent activation:

    * ``simple`` (G = 1): ``h = a(x + z)``;
    * ``lstm`` (G = 4, gates i f c o): ``c = ra(xf + zf) * c + ra(xi + zi) * a(xc + zc)``,
      ``h = ra(xo + zo) * a(c)``;
    * ``gru`` (G = 3, gates z r h): ``u = ra(xz + zz)``, ``r = ra(xr + zr)``,
      ``hh = a(xh + r * zh)`` (``reset_after``) or ``a(xh + (r * h) Uh)``
      (the last ``units`` columns of ``U`` applied after the reset gate, ``z``
      then only covers the first ``2 units``); ``h = u * h + (1 - u) * hh``.

    The state starts at zero.  ``backwards``: step ``s`` reads input position
    ``n_steps - 1 - s``; ``reverse_out``: step ``s`` writes output position
    ``n_steps - 1 - s`` (Bidirectional's flipped backward sequence)."""

    template = "ops/recurrent.c.j2"
    hot = True
    GATES = {"simple": 1, "lstm": 4, "gru": 3}

    def __init__(self, kind: str, U, n_steps: int, activation=("tanh", {}), recurrent_activation=("sigmoid", {}),
                 recurrent_bias=None, reset_after: bool = True, backwards: bool = False,
                 sequences: bool = False, reverse_out: bool = False):
        if kind not in self.GATES:
            raise ConversionError(f"Recurrent: unknown kind {kind!r}")
        self.kind = kind
        self.n_gates = self.GATES[kind]
        self.U = np.asarray(U, dtype=np.float64)
        self.units = int(self.U.shape[0]) if self.U.ndim == 2 else 0
        if self.U.shape != (self.units, self.n_gates * self.units) or not self.units:
            raise ConversionError(f"Recurrent ({kind}): recurrent kernel of shape {self.U.shape}, expected "
                                  f"(units, {self.n_gates} * units)")
        self.n_steps = int(n_steps)
        self.act, self.act_params = activation[0], dict(activation[1])
        self.ract, self.ract_params = recurrent_activation[0], dict(recurrent_activation[1])
        for k in (self.act, self.ract):
            if k not in Activation.KINDS:
                raise ConversionError(f"Recurrent: unknown activation {k!r}")
        self.reset_after = bool(reset_after) if kind == "gru" else True
        u, m = self.units, self.n_gates * self.units
        #: columns of U multiplied by the previous state (GRU without reset_after: the first 2 units)
        self.m = m if self.reset_after else 2 * u
        self.rb = None if recurrent_bias is None else _vec(recurrent_bias, self.m, "recurrent bias")
        self.backwards, self.sequences, self.reverse_out = bool(backwards), bool(sequences), bool(reverse_out)
        self.helpers = tuple(sorted({h for k in (self.act, self.ract) for h in Activation.HELPERS.get(k, ())}))

    @property
    def U_main(self) -> np.ndarray:
        """The columns of U applied to the previous state: ``[units][m]``."""
        return self.U[:, :self.m]

    @property
    def U_h(self) -> np.ndarray:
        """GRU without reset_after: the candidate's columns, ``[units][units]``."""
        return self.U[:, self.m:]

    def out_width(self, w):
        self.expect_widths(w, [self.n_steps * self.n_gates * self.units])
        return (self.n_steps if self.sequences else 1) * self.units

    def describe(self):
        return f"Recurrent({self.kind}, {self.n_steps}x{self.units})"
