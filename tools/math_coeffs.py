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


# ----------------------------------------------------------------------------
# double pow's table log (skc_log_dd), cbrt, gamma (python tools/math_coeffs.py pow cbrt gamma)
POW_OFF = 0x3fe6b00000000000  # z = 1 is mid-interval (bit 44 set, bits 0-43 clear)


def _dbits(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def _dfrom(u):
    return struct.unpack("<d", struct.pack("<Q", u))[0]


def _round_bits(x, n):
    m, e = mp.frexp(x)
    return float(mp.ldexp(mp.nint(mp.ldexp(m, n)), e - n))


def pow_log_table():
    """128 intervals of z = a / 2^k in [0.709, 1.418) (the top 7 bits of the
    bits of z minus POW_OFF): ic = 1/centre rounded to 26 bits (exactly 1 on
    the interval holding 1) and -log(ic) = hi + lo."""
    ic, hi, lo, rmax = [], [], [], mp.mpf(0)
    for i in range(128):
        a, b = _dfrom(POW_OFF + (i << 45)), _dfrom(POW_OFF + ((i + 1) << 45))
        v = 1.0 if a < 1 < b else _round_bits(2 / (mp.mpf(a) + b), 26)
        L = -mp.log(v)
        ic.append(v)
        hi.append(float(L))
        lo.append(float(L - float(L)))
        rmax = max(rmax, abs(a * mp.mpf(v) - 1), abs(b * mp.mpf(v) - 1))
    return ic, hi, lo, rmax


def _gamma_fits():
    def sinpi_tail(z):  # sin(pi r) / (pi r) - 1, z = r^2
        return mp.sin(mp.pi * mp.sqrt(z)) / (mp.pi * mp.sqrt(z)) - 1 if z else mp.mpf(0)

    def stirling(w):  # x (lgamma(x) - ((x - 1/2) log x - x + log(2 pi) / 2)), w = 1/x^2
        if w == 0:
            return mp.mpf(1) / 12
        x = 1 / mp.sqrt(w)
        return (mp.loggamma(x) - ((x - mp.mpf(1) / 2) * mp.log(x) - x + mp.log(2 * mp.pi) / 2)) * x

    fit("double sinpi tail", sinpi_tail, 0, mp.mpf(1) / 4, 9)
    fit("double gamma(2 + t)", lambda t: mp.gamma(2 + t), 0, 1, 18)
    for a, b in ((0, 1), (-mp.mpf(1) / 2, 0)):
        fit("double lgamma(2 + t) / t", lambda t: mp.loggamma(2 + t) / t if t else 1 - mp.euler, a, b, 18)
    fit("double stirling correction", stirling, 0, mp.mpf(1) / 64, 6)


if __name__ == "__main__":
    if "pow" in sys.argv[1:]:
        ic, hi, lo, rmax = pow_log_table()
        print(f"/* pow log table, |r| <= {mp.nstr(rmax, 4)} */")
        for name, t in (("ic", ic), ("hi", hi), ("lo", lo)):
            print(name, ", ".join(repr(v) for v in t))
        h = _round_bits(mp.log(2), 42)
        print("ln2 =", repr(h), "+", repr(float(mp.log(2) - h)))
    if "cbrt" in sys.argv[1:]:
        fit("double cbrt initial guess", mp.cbrt, 1, 8, 4)
    if "gamma" in sys.argv[1:]:
        _gamma_fits()
