"""Turn IR graphs into C source by filling the jinja2 templates.

Python here only formats numbers and decides which buffer each value lives
in; every line of C comes from ``templates/``.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache

import jinja2
import numpy as np

from .errors import ConversionError, OptionError
from .ir import Graph, Op, Value

FLOAT_TYPES = {"float": "f", "double": "", "long double": "l"}

#: metadata symbol for each graph input name (the first is always "in")
INPUT_META = {"in": "n_inputs", "rnd": "n_random"}


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("scikinc", "templates"),
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    return env


# ---------------------------------------------------------------------------
# Numbers -> C literals.  Exact round trip, shortest form.
# ---------------------------------------------------------------------------


def _fix(s: str) -> str:
    # "%g" may print an integer ("-0", "3"): make it a floating literal so
    # that -0.0 keeps its sign and integer arithmetic never sneaks in.
    if any(c in s for c in ".eEn"):
        return s
    return s + ".0"


def _special(x: float) -> str | None:
    if np.isnan(x):
        return "NAN"
    if np.isinf(x):
        return "INFINITY" if x > 0 else "-INFINITY"
    return None


def format_doubles(a: np.ndarray) -> list[str]:
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    out = list(map(repr, a.tolist()))  # vectorised: millions of weights must format in seconds
    for i in np.nonzero(~np.isfinite(a))[0]:
        out[i] = _special(float(a[i])) or out[i]
    return out


def format_floats(a: np.ndarray) -> list[str]:
    """Shortest decimal strings that the C compiler turns back into the same
    float32 (parsed as double, then rounded to float, exactly as numpy does
    below)."""
    a64 = np.asarray(a, dtype=np.float64).reshape(-1)
    with np.errstate(over="ignore"):  # beyond FLT_MAX: inf, as the C conversion gives
        a32 = a64.astype(np.float32)
    res = np.empty(a32.size, dtype=object)
    finite = np.isfinite(a32)
    for i in np.nonzero(~finite)[0]:
        res[i] = _special(float(a32[i]))
    todo = np.nonzero(finite)[0]
    exact = a32.astype(np.float64)
    for p in (6, 7, 8, 9):
        if todo.size == 0:
            break
        # str % per element and float() back: same strings as np.char.mod, ~10x faster
        strs = list(map(f"%.{p}g".__mod__, exact[todo].tolist()))
        back = np.fromiter(map(float, strs), dtype=np.float64, count=len(strs))
        ok = back.astype(np.float32) == a32[todo]
        s = np.empty(len(strs), dtype=object)
        s[:] = strs
        res[todo[ok]] = s[ok]
        todo = todo[~ok]
    for i in todo:  # cannot happen in practice; stay exact regardless
        res[i] = repr(float(exact[i]))
    out = res.tolist()
    # only integral values can print without '.', 'e' (e.g. "3", "-0"): fix those
    for i in np.nonzero(finite & (a32 == np.trunc(a32)))[0]:
        out[i] = _fix(out[i])
    return out


#: scikinc's own math functions (templates/helpers/math.c.j2): every unit
#: (``NAME_double`` / ``NAME_float``, or a shared core) with the units it
#: calls, in the order they are emitted.  ``Numbers.fn`` maps the public ones
#: to ``skc_NAME`` / ``skc_NAMEf``; long double keeps libm (x87 80-bit and
#: binary128 differ anyway).
MATH_UNITS: dict[str, tuple[str, ...]] = {
    "bits_double": (), "bits_float": (),
    "expcore_double": ("bits_double",), "exp_double": ("expcore_double",),
    "expm1_double": ("expcore_double",), "exp2_double": ("expcore_double",),
    "expcore_float": ("bits_float",), "exp_float": ("expcore_float",), "expm1_float": ("expcore_float",),
    "logcore_double": ("bits_double",), "log_double": ("logcore_double",), "log1p_double": ("logcore_double",),
    "log2_double": ("logcore_double",), "log10_double": ("logcore_double",),
    "logcore_float": ("bits_float",), "log_float": ("logcore_float",), "log1p_float": ("logcore_float",),
    "tanh_double": ("expcore_double",), "tanh_float": ("expcore_float",),
    "sinh_double": ("expcore_double",), "cosh_double": ("expcore_double",),
    "erfcore_double": ("expcore_double",), "erf_double": ("erfcore_double",), "erfc_double": ("erfcore_double",),
    "pow_float": ("expcore_double", "logcore_double", "bits_float"),
    "powcore_double": ("expcore_double",), "pow_double": ("powcore_double",), "cbrt_double": ("bits_double",),
    "hypot_double": ("bits_double",), "hypot_float": ("bits_double", "bits_float"),
    "asinh_double": ("log_double", "log1p_double"), "acosh_double": ("log_double", "log1p_double"),
    "atanh_double": ("log1p_double",),
    "gammacore_double": ("powcore_double", "log_double", "log1p_double"),
    "tgamma_double": ("gammacore_double",), "lgamma_double": ("gammacore_double",),
    # float functions computed with the double implementation
    **{f"{n}_float": (f"{n}_double", "bits_float")
       for n in ("erf", "erfc", "exp2", "log2", "log10", "sinh", "cosh", "cbrt", "asinh", "acosh", "atanh",
                 "tgamma", "lgamma")},
}
#: the units of templates/helpers/math_trig.c.j2 (sin, cos, tan, asin, acos,
#: atan, atan2), emitted after math.c.j2's; float ones via the double ones
TRIG_UNITS: dict[str, tuple[str, ...]] = {
    "trigddcore_double": (), "trigcore_double": ("bits_double", "trigddcore_double"),
    **{f"{n}_double": ("trigcore_double",) for n in ("sin", "cos", "tan")},
    "atancore_double": ("bits_double",), "atan_double": ("atancore_double",), "atan2_double": ("atancore_double",),
    "asincore_double": ("bits_double", "trigddcore_double"), "asin_double": ("asincore_double",),
    "acos_double": ("asincore_double",),
    **{f"{n}_float": (f"{n}_double",) for n in ("sin", "cos", "tan", "asin", "acos", "atan", "atan2")},
}
MATH_UNITS.update(TRIG_UNITS)
#: public own functions per C type
OWN_MATH = {t: {u[: -len(t) - 1] for u in MATH_UNITS if u.endswith("_" + t) and "core" not in u
                and not u.startswith("bits")} for t in ("float", "double")}


def math_units(used: set[str]) -> list[str]:
    """``used`` and everything it calls, in emission order."""
    need: set[str] = set()
    todo = list(used)
    while todo:
        u = todo.pop()
        if u not in need:
            need.add(u)
            todo.extend(MATH_UNITS[u])
    return [u for u in MATH_UNITS if u in need]


@dataclass
class Numbers:
    float_t: str
    #: own math units the generated code calls (filled by ``fn``)
    math: set[str] = field(default_factory=set)

    def strings(self, a) -> list[str]:
        if self.float_t == "float":
            return format_floats(a)
        return format_doubles(a)

    def lit(self, x) -> str:
        return self.strings(np.array([x], dtype=np.float64))[0]

    def arr(self, a, per_line: int = 8) -> str:
        s = self.strings(a)
        if not s:
            return "0"
        return ",\n".join(", ".join(s[i : i + per_line]) for i in range(0, len(s), per_line))

    @staticmethod
    def ints(a, per_line: int = 16) -> str:
        s = [str(int(v)) for v in np.asarray(a).reshape(-1).tolist()]
        if not s:
            return "0"
        return ",\n".join(", ".join(s[i : i + per_line]) for i in range(0, len(s), per_line))

    def fn(self, name: str, float_t: str | None = None) -> str:
        """C function computing ``name`` for FLOAT_T (or ``float_t``): scikinc's
        own (``fn('exp')`` -> ``skc_expf`` for float, ``skc_exp`` for double,
        emitted once per file) where there is one, else libm's (``expl``,
        ``sinf``, ``sqrt``)."""
        t = float_t or self.float_t
        if name == "sel" and t in OWN_MATH:  # skc_dsel / skc_fsel(c, a, b): c ? a : b without a branch
            self.math.add(f"bits_{t}")
            return "skc_" + t[0] + "sel"
        if name in OWN_MATH.get(t, ()):
            self.math.add(f"{name}_{t}")
            return "skc_" + name + FLOAT_TYPES[t]
        return name + FLOAT_TYPES[t]

    def wfn(self, name: str) -> str:
        """``fn`` for SKC_WIDE_T (double, long double for long double)."""
        return self.fn(name, "long double" if self.float_t == "long double" else "double")


# ---------------------------------------------------------------------------
# Per-op template context
# ---------------------------------------------------------------------------


@dataclass
class OpContext:
    """What a template sees as ``c``: buffer pointers and number formatters."""

    p: str  # unique prefix for this op's static data
    src: list[str]
    dst: str
    num: Numbers
    T: str = "FLOAT_T"
    #: rows processed at once by ``body_rows`` (the batch kernels), and the
    #: distance in values between two rows of each source and of ``dst``
    rows: int = 1
    src_stride: list[int] = field(default_factory=list)
    dst_stride: int = 0
    #: storage of the big dense weight tables (``WEIGHTS``): layers of at least
    #: ``half_min`` weights store them half-size when it is not float32
    weights: str = "float32"
    half_min: int = 4096

    def half_bits(self, a) -> np.ndarray:
        """16-bit patterns of ``a`` in ``self.weights`` (see :func:`half_bits`)."""
        return half_bits(a, self.weights)

    def lit(self, x):
        return self.num.lit(x)

    def arr(self, a, per_line: int = 8):
        return self.num.arr(a, per_line)

    def ints(self, a, per_line: int = 16):
        return self.num.ints(a, per_line)

    def fn(self, name):
        return self.num.fn(name)

    def wfn(self, name):
        return self.num.wfn(name)

    def warr(self, a, per_line: int = 8):
        """Array literal for SKC_WIDE_T tables (double, or long double)."""
        return (self.num if self.num.float_t != "float" else Numbers("double")).arr(a, per_line)

    # literals of a fixed C type, whatever FLOAT_T is: lists (``*lits``) to
    # index in a template, or array bodies (``*arr``) of ``per_line`` per line
    @staticmethod
    def join(strings, per_line: int = 8) -> str:
        s = list(strings)
        if not s:
            return "0"
        return ",\n".join(", ".join(s[i : i + per_line]) for i in range(0, len(s), per_line))

    @staticmethod
    def dlits(a) -> list[str]:
        """``double`` literals."""
        return format_doubles(a)

    def darr(self, a, per_line: int = 8) -> str:
        return self.join(self.dlits(a), per_line)

    @staticmethod
    def flits(a) -> list[str]:
        """``float`` literals (``1.5f``) of the float32 values of ``a``."""
        return [s if s in ("NAN", "INFINITY", "-INFINITY") else s + "f" for s in format_floats(a)]

    def farr(self, a, per_line: int = 8) -> str:
        return self.join(self.flits(a), per_line)

    @staticmethod
    def ulits(a, hex_digits: int = 0, suffix: str = "u") -> list[str]:
        """Unsigned integer literals: decimal, or hex of ``hex_digits`` digits."""
        v = [int(x) for x in np.asarray(a).reshape(-1).tolist()]
        if hex_digits:
            return [f"0x{x:0{hex_digits}x}{suffix}" for x in v]
        return [f"{x}{suffix}" for x in v]

    def uarr(self, a, per_line: int = 16, hex_digits: int = 0, suffix: str = "u") -> str:
        return self.join(self.ulits(a, hex_digits, suffix), per_line)


class Copy(Op):
    template = "ops/copy.c.j2"
    elementwise = True

    def out_width(self, w):
        return w[0]


@dataclass
class Entry:
    """One exported function: ``name(out, in[, rnd])`` plus its satellites."""

    name: str
    graph: Graph
    doc: str = ""
    extra: dict = field(default_factory=dict)


def _allocate(graph: Graph):
    """Assign every intermediate value a stack buffer, reusing buffers whose
    value is dead; elementwise ops run in place when their input dies.

    Returns ``[(op, src_names, dst_name)]`` and the buffer sizes.  Only the
    last op writes ``out``; because callers may pass ``out == in``, an op
    that is not elementwise never reads a graph input while writing ``out``
    (a final copy is appended instead).
    """
    ops = list(graph.ops)
    input_values = {id(v) for _, v in graph.inputs}
    if graph.output is None:
        raise ConversionError("graph has no output value")
    if (not ops or graph.output is not ops[-1].output
            or (not ops[-1].elementwise and any(id(v) in input_values for v in ops[-1].inputs))):
        cp = Copy()
        cp.inputs = [graph.output]
        cp.output = Value(graph.output.width, -1)
        ops.append(cp)

    last_use: dict[int, int] = {}
    for k, op in enumerate(ops):
        for v in op.inputs:
            last_use[id(v)] = k

    names: dict[int, str] = {id(v): pname for pname, v in graph.inputs}
    sizes: list[int] = []
    free: list[int] = []
    owner: dict[int, int] = {}  # value id -> buffer index
    plan = []
    for k, op in enumerate(ops):
        outv = op.output
        if k == len(ops) - 1:
            dst = "out"
        else:
            buf = None
            if op.elementwise:  # in place over an input that dies here
                for v in op.inputs:
                    if id(v) in owner and last_use[id(v)] == k and v.width == outv.width:
                        buf = owner[id(v)]
                        break
            if buf is None:
                fits = [b for b in free if sizes[b] >= outv.width]
                if fits:
                    buf = min(fits, key=lambda b: (sizes[b], b))
                elif free:
                    buf = max(free, key=lambda b: (sizes[b], -b))
                    sizes[buf] = outv.width
                else:
                    sizes.append(outv.width)
                    buf = len(sizes) - 1
                if buf in free:
                    free.remove(buf)
            owner[id(outv)] = buf
            names[id(outv)] = dst = f"b{buf}"
        plan.append((op, [names[id(v)] for v in op.inputs], dst))
        for v in op.inputs:
            b = owner.get(id(v))
            if b is not None and last_use[id(v)] == k and dst != f"b{b}" and b not in free:
                free.append(b)
    return plan, sizes


def _label(label: str, limit: int = 48) -> str:
    """An op's source label (``step.layer``) made safe for C comments and
    identifiers: letters, digits, ``_`` and ``.`` only, at most ``limit``
    characters (the tail, which names the innermost layer, is kept)."""
    s = re.sub(r"[^A-Za-z0-9_.]", "_", label or "")
    return s if len(s) <= limit else s[-limit:].lstrip("._")


#: rows per block of the batch entry point (``name_batch``) for each FLOAT_T:
#: 6 rows x one 64-float (32-double) dense block of running sums fill 24 of
#: the 32 AVX-512 registers
BATCH_ROWS = {"float": 6, "double": 6, "long double": 4}
#: most stack the R-row buffers of a batch block may take
BATCH_STACK_BYTES = 64 * 1024
_SIZEOF = {"float": 4, "double": 8, "long double": 16}


def batch_rows(blocked: bool, sizes: Sequence[int], float_t: str) -> int:
    """Rows per block of the row-blocked batch path, or 0 for the plain loop
    over single calls (no op with a row-blocked kernel (``body_rows``) to
    share weight loads, or buffers too wide for ``BATCH_STACK_BYTES``)."""
    if not blocked:
        return 0
    R = BATCH_ROWS[float_t]
    while R > 1 and R * sum(sizes) * _SIZEOF[float_t] > BATCH_STACK_BYTES:
        R -= 1
    return R if R > 1 else 0


def _batch_part(mod, op, ctx: OpContext, R: int, widths: dict[str, int], inputs: set[str]) -> dict:
    """One op of the batch block: its template's ``body_rows`` over R-row
    buffers, or its single-row body run once per row on row pointers."""
    src_stride = [widths[s] for s in ctx.src]
    if hasattr(mod, "body_rows"):
        rc = OpContext(p=ctx.p, src=ctx.src, dst=ctx.dst, num=ctx.num, rows=R, src_stride=src_stride,
                       dst_stride=widths[ctx.dst], weights=ctx.weights)
        return {"rows_body": str(mod.body_rows(op, rc)).strip("\n")}
    names = list(dict.fromkeys([*ctx.src, ctx.dst]))
    ptrs = [{"name": "skc_" + n, "base": n, "stride": widths[n], "const": n in inputs}
            for n in names]
    rc = OpContext(p=ctx.p, src=["skc_" + s for s in ctx.src], dst="skc_" + ctx.dst, num=ctx.num,
                   weights=ctx.weights)
    return {"row_ptrs": ptrs, "row_body": str(getattr(mod, "body")(op, rc)).strip("\n")}  # noqa: B009


#: storage formats of the big dense weight tables: float32 is FLOAT_T (the
#: default); float16 / bfloat16 store 16-bit patterns widened in registers
WEIGHTS = ("float32", "float16", "bfloat16")
#: largest finite float16
_F16_MAX = 65504.0


def half_bits(a, weights: str) -> np.ndarray:
    """Bit patterns (uint16) of ``a`` rounded to nearest even: float16 from the
    values themselves (numpy's conversion), bfloat16 from their float32
    values (the top 16 bits, rounded; NaN stays a quiet NaN).  A float16
    weight beyond float16's range or not finite raises an OptionError."""
    a = np.asarray(a, dtype=np.float64)
    if weights == "float16":
        big = ~(np.abs(a) < _F16_MAX + 16)  # 65520 and beyond round to inf; NaN
        if big.any():
            raise OptionError(f"weights='float16': a weight of {a[big].flat[0]!r} is beyond the float16 range "
                              f"(+-{_F16_MAX:g}); use weights='bfloat16' or 'float32'")
        return a.astype(np.float16).view(np.uint16)
    if weights == "bfloat16":
        with np.errstate(over="ignore"):
            u = a.astype(np.float32).view(np.uint32).astype(np.uint64)
        nan = np.isnan(a)
        r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
        r[nan] = ((u[nan] >> 16) | 0x40).astype(np.uint16)
        return r
    raise OptionError(f"weights must be one of {', '.join(WEIGHTS)}; got {weights!r}")


def half_weights_value(bits: np.ndarray, weights: str) -> np.ndarray:
    """The float values of ``half_bits`` patterns (what the C code widens them to)."""
    bits = np.asarray(bits, dtype=np.uint16)
    if weights == "float16":
        return bits.view(np.float16).astype(np.float64)
    return (bits.astype(np.uint32) << 16).view(np.float32).astype(np.float64)


def render_entry(entry: Entry, num: Numbers, weights: str = "float32") -> tuple[str, set[str]]:
    env = environment()
    g = entry.graph
    plan, sizes = _allocate(g)
    mods = [env.get_template(op.template).make_module({"T": "FLOAT_T"}) for op, _, _ in plan]
    R = batch_rows(any(hasattr(m, "body_rows") for m in mods), sizes, num.float_t)
    widths = {pname: v.width for pname, v in g.inputs}
    widths.update({f"b{i}": n for i, n in enumerate(sizes)})
    widths["out"] = plan[-1][0].output.width
    parts = []
    helpers: set[str] = set()
    hot = False
    for k, (op, src, dst) in enumerate(plan):
        label = _label(op.label)
        tag = re.sub(r"[^A-Za-z0-9_]", "_", label)
        ctx = OpContext(p=f"{entry.name}__{k}" + (f"_{tag}" if tag else ""), src=src, dst=dst, num=num,
                        weights=weights)
        mod = mods[k]
        data = str(mod.data(op, ctx)) if hasattr(mod, "data") else ""
        body = str(getattr(mod, "body")(op, ctx))  # noqa: B009  (jinja module attributes are dynamic)
        part = {"op": op.describe() + (f" ({label})" if label else ""), "data": data.strip("\n"),
                "body": body.strip("\n")}
        if R:
            part.update(_batch_part(mod, op, ctx, R, widths, {pname for pname, _ in g.inputs}))
        parts.append(part)
        helpers.update(op.helpers)
        if weights != "float32" and op.template == "ops/dense.c.j2":
            helpers.add("half_weights")
        hot = hot or op.hot
    inputs = [(pname, v.width, INPUT_META.get(pname, "n_" + pname)) for pname, v in g.inputs]
    text = env.get_template("entry.c.j2").render(
        e=entry.name,
        doc=entry.doc,
        parts=parts,
        buffers=sizes,
        inputs=inputs,
        n_out=plan[-1][0].output.width,
        hot=hot,
        extra=entry.extra,
        R=R,
    )
    return text, helpers


def render_file(entries: Sequence[Entry], *, float_t: str, copyright: str | None, version: str,
                weights: str = "float32") -> str:
    if float_t not in FLOAT_TYPES:
        raise ConversionError(f"float_t must be one of {sorted(FLOAT_TYPES)}, got {float_t!r}")
    if not isinstance(weights, str) or weights not in WEIGHTS:
        raise OptionError(f"weights must be one of {', '.join(WEIGHTS)}; got {weights!r}")
    env = environment()
    num = Numbers(float_t)
    bodies = []
    helpers: set[str] = set()
    for e in entries:
        text, h = render_entry(e, num, weights)
        bodies.append(text)
        helpers |= h
    helper_text = []
    for name in sorted(helpers):
        helper_text.append(env.get_template(f"helpers/{name}.c.j2").render(c=num, T="FLOAT_T").strip("\n"))
    if num.math:  # after the other helpers, which may call math functions too; emitted before them
        helper_text.insert(0, math_source(num.math))
    protos = []
    for e in entries:
        protos.append(env.get_template("prototypes.h.j2").render(
            e=e.name, inputs=[p for p, _ in e.graph.inputs], extra=e.extra).strip("\n"))
    return env.get_template("file.c.j2").render(
        float_t=float_t,
        copyright=copyright,
        version=version,
        entries=entries,
        prototypes=protos,
        helpers=helper_text,
        bodies=bodies,
    )


def math_source(used: set[str]) -> str:
    """C of the own math units ``used`` (``MATH_UNITS`` keys) and their callees."""
    need = math_units(used)
    env = environment()
    text = env.get_template("helpers/math.c.j2").render(need=[u for u in need if u not in TRIG_UNITS]).strip("\n")
    trig = [u for u in need if u in TRIG_UNITS]
    if trig:
        text += "\n\n" + env.get_template("helpers/math_trig.c.j2").render(need=trig).strip("\n")
    return text


def render_header(entries: Sequence[Entry], *, float_t: str, version: str, guard: str) -> str:
    env = environment()
    protos = [
        env.get_template("prototypes.h.j2").render(
            e=e.name, inputs=[p for p, _ in e.graph.inputs], extra=e.extra).strip("\n")
        for e in entries
    ]
    return env.get_template("header.h.j2").render(
        float_t=float_t, version=version, prototypes=protos, guard=guard, entries=entries)
