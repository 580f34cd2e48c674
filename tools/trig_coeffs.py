"""Polynomial coefficients and the 2/pi bit table of scikinc's own
trigonometric functions (src/scikinc/templates/helpers/math_trig.c.j2),
fitted with mpmath (Chebyshev interpolants, see tools/math_coeffs.py).

    python tools/trig_coeffs.py          # prints every table as C literals
"""
import sys
from pathlib import Path

import mpmath as mp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from math_coeffs import fit  # noqa: E402

mp.mp.prec = 1400


def tail(f, lead):  # (f(x) - x) / x^3 or (f(x) - 1 + x^2/2) / x^4 as functions of z = x^2
    def g(z):
        if z == 0:
            return lead
        x = mp.sqrt(z)
        if f is mp.cos:
            return (mp.cos(x) - 1 + z / 2) / z**2
        return (f(x) - x) / x**3
    return g


def split_pio2():
    """pi/2 as 33 + 33 + 33 bits + a double rest (each 33-bit part times a
    20-bit integer is exact)."""
    parts, rest = [], mp.pi / 2
    for _ in range(3):
        e = mp.floor(mp.log(abs(rest), 2))
        q = mp.mpf(2) ** (e - 32)
        p = mp.floor(rest / q) * q if rest > 0 else -mp.floor(-rest / q) * q
        # nearest 33-bit value (the rest may then be negative)
        p = mp.nint(rest / q) * q
        parts.append(p)
        rest -= p
    parts.append(rest)
    return parts


def two_over_pi_words(n_words=40, pad_bits=64):
    """2/pi's bits after the binary point, preceded by ``pad_bits`` zeros, as
    ``n_words`` 32-bit words (most significant first)."""
    v = mp.floor((2 / mp.pi) * mp.mpf(2) ** (32 * n_words - pad_bits))
    words = []
    for _ in range(n_words):
        words.append(int(v % 2**32))
        v = mp.floor(v / 2**32)
    return words[::-1]


if __name__ == "__main__":
    mp.mp.prec = 200
    q = mp.pi / 4 * mp.mpf("1.0001")
    for d in (5, 6, 7):
        fit("double sin tail (sin x - x) / x^3", tail(mp.sin, -mp.mpf(1) / 6), 0, q * q, d)
    for d in (5, 6, 7):
        fit("double cos tail (cos x - 1 + x^2/2) / x^4", tail(mp.cos, mp.mpf(1) / 24), 0, q * q, d)
    for d in (10, 11, 12):
        fit("double atan tail", tail(mp.atan, -mp.mpf(1) / 3), 0, mp.mpf("0.4375") ** 2 * mp.mpf("1.0001"), d)
    for d in (12, 13, 14, 15):
        fit("double asin tail", tail(mp.asin, mp.mpf(1) / 6), 0, mp.mpf("0.25") * mp.mpf("1.0001"), d)
    mp.mp.prec = 1400
    print("/* pi/2 = */", ", ".join(repr(float(p)) for p in split_pio2()))
    for c in ("0.5", "1", "1.5"):
        a = mp.atan(mp.mpf(c))
        print(f"/* atan({c}) = */ {float(a)!r} + {float(a - mp.mpf(float(a)))!r}")
    for name, v in (("pi/2", mp.pi / 2), ("pi", mp.pi)):
        print(f"/* {name} = */ {float(v)!r} + {float(v - mp.mpf(float(v)))!r}")
    w = two_over_pi_words()
    print("/* 2/pi words */")
    print(",\n".join(", ".join(f"0x{x:08x}u" for x in w[i:i + 8]) for i in range(0, len(w), 8)))
