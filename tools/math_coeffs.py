"""Polynomial coefficients of scikinc's own math functions
(src/scikinc/templates/helpers/math.c.j2), fitted with mpmath.

    python tools/math_coeffs.py          # prints every table as C literals

Each fit is a Chebyshev interpolant (near-minimax) of the function named in
its comment, on the reduced range the C code uses; the printed error is the
maximum absolute error of the fit before rounding the coefficients.
"""
import struct

import mpmath as mp

mp.mp.prec = 200


def f32(x):
    return struct.unpack("f", struct.pack("f", float(x)))[0]


def lit(x, single=False):
    if single:
        v = f32(x)
        for p in range(6, 10):
            s = f"%.{p}g" % v
            if f32(float(s)) == v:
                break
        return s + ("" if any(c in s for c in ".e") else ".0") + "f"
    return repr(float(x))


def fit(name, f, a, b, deg, single=False):
    coeffs, err = mp.chebyfit(f, [a, b], deg + 1, error=True)
    coeffs = coeffs[::-1]  # lowest degree first
    print(f"/* {name}: degree {deg} on [{mp.nstr(a, 6)}, {mp.nstr(b, 6)}], fit error {mp.nstr(err, 3)} */")
    print(", ".join(lit(c, single) for c in coeffs))
    return coeffs


def expm1_tail(r):  # (e^r - 1 - r) / r^2
    return mp.mpf(1) / 2 if r == 0 else (mp.expm1(r) - r) / r**2


def log_tail(z):  # (2 atanh(s) / s - 2) / z, z = s^2
    if z == 0:
        return mp.mpf(2) / 3
    s = mp.sqrt(z)
    return (2 * mp.atanh(s) / s - 2) / z


def erf_small(z):  # erf(x) / x - 1, z = x^2
    if z == 0:
        return 2 / mp.sqrt(mp.pi) - 1
    x = mp.sqrt(z)
    return mp.erf(x) / x - 1


def erfcx(x):  # erfc(x) exp(x^2)
    return mp.erfc(x) * mp.exp(x * x)


if __name__ == "__main__":
    import sys

    R = mp.mpf("0.3466")
    what = sys.argv[1:] or ["all"]
    if "all" in what or "exp" in what:
        for d in (9, 10, 11):
            fit("double expm1 tail", expm1_tail, -R, R, d)
        for d in (4, 5):
            fit("float expm1 tail", expm1_tail, -R, R, d, single=True)
    if "all" in what or "log" in what:
        Z = ((mp.sqrt(2) - 1) / (mp.sqrt(2) + 1)) ** 2 * mp.mpf("1.0001")
        for d in (5, 6, 7):
            fit("double log tail", log_tail, 0, Z, d)
        for d in (1, 2):
            fit("float log tail", log_tail, 0, Z, d, single=True)
    if "all" in what or "erf" in what:
        for d in (8, 9, 10):
            fit("double erf small", erf_small, 0, mp.mpf(0.25), d)
    if "all" in what or "erfc" in what:
        for j in range(12):
            e, half = divmod(j, 2)
            a = mp.mpf(2) ** (e - 1) * (1 + mp.mpf(half) / 2)
            b = mp.mpf(2) ** (e - 1) * (mp.mpf(3) / 2 if half == 0 else 2)
            mid = (a + b) / 2
            for d in (int(sys.argv[2]) if len(sys.argv) > 2 else 16,):
                fit(f"double erfcx interval {j}", lambda t, m=mid: erfcx(m + t), a - mid, b - mid, d)


def odd_tail(fn):  # (fn(x) - x) / x^3 as a function of z = x^2
    def g(z):
        if z == 0:
            return {"tanh": -mp.mpf(1) / 3, "sinh": mp.mpf(1) / 6}[fn]
        x = mp.sqrt(z)
        return (getattr(mp, fn)(x) - x) / x**3
    return g


if __name__ == "__main__":
    if "odd" in sys.argv[1:]:
        for d in (8, 9, 10, 11):
            fit("double tanh small", odd_tail("tanh"), 0, mp.mpf("0.3025"), d)
        for d in (3, 4, 5):
            fit("float tanh small", odd_tail("tanh"), 0, mp.mpf("0.3025"), d, single=True)
        for d in (5, 6, 7):
            fit("double sinh small", odd_tail("sinh"), 0, mp.mpf(1), d)
