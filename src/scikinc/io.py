"""Reading model files and naming symbols."""
from __future__ import annotations

import pickle
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import ConversionError, InvalidSymbolError, ModelFileError, ScikincError, one_line

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# Names a generated function must not take: C/C++ keywords and the libm /
# libc functions the generated file itself includes.
RESERVED = set(
    """
auto break case char const continue default do double else enum extern float for goto if
inline int long register restrict return short signed sizeof static struct switch typedef
union unsigned void volatile while _Bool _Complex _Imaginary alignas alignof and and_eq asm
bitand bitor bool catch class compl constexpr const_cast decltype delete dynamic_cast
explicit export false friend mutable namespace new noexcept not not_eq nullptr operator or
or_eq private protected public reinterpret_cast static_assert static_cast template this
thread_local throw true try typeid typename using virtual wchar_t xor xor_eq
main memcpy memmove memset strlen abs size_t std
""".split()
)
_MATH = """acos asin atan atan2 cos sin tan acosh asinh atanh cosh sinh tanh exp exp2 expm1
frexp ldexp log log10 log1p log2 logb modf scalbn cbrt fabs hypot pow sqrt erf erfc lgamma
tgamma ceil floor nearbyint rint lrint round lround trunc fmod remainder copysign nan
nextafter fdim fmax fmin fma isnan isinf isfinite signbit fpclassify
gamma j0 j1 jn y0 y1 yn drem finite significand""".split()
for _f in _MATH:
    RESERVED.update({_f, _f + "f", _f + "l"})


def sanitize(stem: str) -> str:
    """A C identifier derived from a file stem (``my-model.v2`` -> ``my_model_v2``)."""
    s = re.sub(r"[^A-Za-z0-9_]", "_", stem)
    if not s or s[0].isdigit():
        s = "m_" + s
    if s in RESERVED:
        s = s + "_model"
    return s


def check_symbol(name: str) -> str:
    if not isinstance(name, str) or not _IDENT.match(name):
        raise InvalidSymbolError(
            f"invalid symbol name {name!r}: a C identifier is required "
            "(letters, digits and '_', not starting with a digit)"
        )
    if name in RESERVED or name.startswith("skc_") or name.startswith("__"):
        raise InvalidSymbolError(
            f"invalid symbol name {name!r}: it is a C/C++ keyword, a libc/libm function or a "
            "reserved prefix (skc_, __)"
        )
    return name


def split_spec(spec: str) -> tuple[str | None, str]:
    """``"name=path"`` -> ``("name", "path")``; ``"path"`` -> ``(None, "path")``."""
    if "=" in spec:
        name, path = spec.split("=", 1)
        if not name:
            raise InvalidSymbolError(f"empty symbol name in {spec!r}")
        return name, path
    return None, spec


# ---------------------------------------------------------------------------
# Loaders by file suffix.  Other modules (Keras) add theirs with register_loader.
# ---------------------------------------------------------------------------

_LOADERS: dict[str, Callable[[Path, dict], Any]] = {}

#: keyword arguments of ``convert``/``compile``/``header`` handed to the loaders
#: (``trust``: .skops, ``safe_mode``: .keras); ``register_loader(options=...)`` adds more
LOAD_OPTIONS = {"trust", "safe_mode"}


def register_loader(*suffixes: str, options=()):
    """Decorator registering ``fn(path, opts) -> object`` for file suffixes;
    ``options`` names the keyword arguments (``opts`` keys) it understands."""
    LOAD_OPTIONS.update(options)

    def deco(fn):
        for s in suffixes:
            _LOADERS[s.lower()] = fn
        return fn

    return deco


def check_load_opts(opts) -> dict:
    """``opts`` if every key is a loader option, else ConversionError (a typo
    such as ``float_T=`` would otherwise be ignored)."""
    unknown = sorted(str(k) for k in opts if k not in LOAD_OPTIONS)
    if unknown:
        raise ConversionError(f"unexpected keyword argument(s) {', '.join(map(repr, unknown))}; besides its "
                              f"own arguments, convert() takes only the model-file options "
                              f"{', '.join(sorted(LOAD_OPTIONS))}")
    trust = opts.get("trust")
    if trust is not None and (not isinstance(trust, (list, tuple, set, frozenset))
                              or not all(isinstance(t, str) for t in trust)):
        raise ConversionError(f"trust must be a list of type names, got {trust!r}")
    return dict(opts)


@register_loader(".pkl", ".pickle")
def _load_pickle(path: Path, opts: dict) -> Any:
    with open(path, "rb") as f:
        return pickle.load(f)


@register_loader(".joblib")
def _load_joblib(path: Path, opts: dict) -> Any:
    import joblib

    return joblib.load(path)


#: type-name prefixes trusted when reading .skops files without --trust
SKOPS_TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.sparse.", "builtins.", "collections.OrderedDict")


@register_loader(".skops")
def _load_skops(path: Path, opts: dict) -> Any:
    try:
        import skops.io as sio
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ModelFileError(f"{path}: reading .skops files needs the 'skops' package (pip install skops)") from e
    untrusted = sio.get_untrusted_types(file=path)
    extra = set(opts.get("trust", ()))
    refused = [t for t in untrusted if t not in extra and not t.startswith(SKOPS_TRUSTED_PREFIXES)]
    if refused:
        raise ModelFileError(
            f"{path}: refusing to load untrusted types {refused}; if you trust this file, "
            "pass them with --trust TYPE (Python: trust=[...])"
        )
    return sio.load(path, trusted=list(untrusted))


def _keras_suffixes() -> tuple[str, ...]:
    return (".keras", ".h5", ".hdf5")


def load_model_file(path: str | Path, **opts) -> Any:
    p = Path(path)
    if not p.exists():
        raise ModelFileError(f"{p}: no such file or directory")
    if p.is_dir():
        suffix = "<dir>"
    else:
        suffix = p.suffix.lower()
    if suffix in _keras_suffixes() or suffix == "<dir>":
        # Keras support registers its loaders on import (kept lazy: importing
        # TensorFlow costs seconds and is optional).
        try:
            from .loaders import keras  # noqa: F401
        except ImportError:
            pass
    if suffix == ".txt":  # LightGBM text models (the loader needs no lightgbm)
        from .loaders import lightgbm  # noqa: F401
    if suffix == ".cbm":  # CatBoost binary models (CatBoost's own loader; .json: via the XGBoost sniffer)
        from .loaders import catboost  # noqa: F401
    if suffix in (".json", ".ubj"):  # XGBoost models (no xgboost needed; other JSON models: sniffed there)
        from .loaders import xgboost  # noqa: F401
    loader = _LOADERS.get(suffix)
    if loader is None:
        known = ", ".join(sorted(k for k in _LOADERS if k != "<dir>"))
        raise ModelFileError(f"{p}: unknown model file type {p.suffix or '(none)'!r}; known: {known}")
    try:
        return loader(p, opts)
    except ScikincError:
        raise
    except Exception as e:  # unpickling runs arbitrary code: anything may come out
        raise ModelFileError(f"{p}: cannot read the model ({type(e).__name__}: {one_line(e)})") from e
