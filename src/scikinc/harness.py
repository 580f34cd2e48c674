"""``load``: call a compiled model from Python through cffi (ABI mode)."""
from __future__ import annotations

import os
import platform
import re
from pathlib import Path

import numpy as np

from .errors import InputError, LoadError, one_line

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DTYPES = {"float": np.float32, "double": np.float64, "long double": np.longdouble}
_META_NAMES = {"in": "n_inputs", "rnd": "n_random"}


def _ffi():
    import cffi

    return cffi.FFI()


class MLFunction:
    """A compiled model: ``f(x)`` for one row (1-D) or many rows (2-D).

    Generative symbols take the noise as a second argument: ``f(x, rnd)``.
    Arrays already C-contiguous and of the right dtype are passed without a
    copy.  ``inverse`` is the inverse transform when the library exports one,
    else ``None``.
    """

    def __init__(self, so_path: str | os.PathLike, symbol: str, *, _lib=None, _ffi_obj=None):
        self.path = Path(so_path)
        if not isinstance(symbol, str) or not _IDENT.match(symbol):
            raise LoadError(f"{self.path}: {symbol!r} is not a C identifier, so not a symbol scikinc exports")
        self.symbol = symbol
        if _lib is None:
            if not self.path.exists():
                raise LoadError(f"{self.path}: no such shared object")
            ffi = _ffi()
            try:
                lib = ffi.dlopen(str(self.path.resolve()))
            except OSError as e:
                arch = _elf_arch(self.path)
                if arch is not None and arch != platform.machine():
                    raise LoadError(f"{self.path}: built for {arch}, this machine is {platform.machine()}: load it "
                                    f"on an {arch} machine (or run it under qemu-user from a C host)") from e
                raise LoadError(f"{self.path}: cannot load shared object: {e}") from e
            _ffi_obj = ffi
            _lib = lib
        self._ffi, self._lib = _ffi_obj, _lib
        ffi, lib = self._ffi, self._lib
        self.float_t = self._read_string(f"{symbol}_float_t")
        if self.float_t not in _DTYPES:
            raise LoadError(f"{self.path}: symbol {symbol!r} has unknown float type {self.float_t!r}")
        self.dtype = np.dtype(_DTYPES[self.float_t])
        self.n_inputs = self._read_int(f"{symbol}_n_inputs")
        self.n_outputs = self._read_int(f"{symbol}_n_outputs")
        self.n_random = self._read_int(f"{symbol}_n_random", required=False)
        T = self.float_t
        extra = f", const {T} *" if self.n_random is not None else ""
        ffi.cdef(f"{T} *{symbol}({T} *, const {T} *{extra});\n"
                 f"{T} *{symbol}_batch({T} *, const {T} *{extra}, size_t);")
        try:
            self._single = getattr(lib, symbol)
            self._batch = getattr(lib, symbol + "_batch")
        except (AttributeError, KeyError) as e:
            raise LoadError(f"{self.path}: symbol {symbol!r} or {symbol}_batch not found") from e
        self.inverse = None
        if not symbol.endswith("_inverse") and self._has(f"{symbol}_inverse_float_t"):
            self.inverse = MLFunction(self.path, symbol + "_inverse", _lib=lib, _ffi_obj=ffi)

    # -- metadata --------------------------------------------------------
    def _has(self, name: str) -> bool:
        try:
            self._ffi.cdef(f"extern const char {name}[];", override=True)
            getattr(self._lib, name)
            return True
        except (AttributeError, KeyError):
            return False

    def _read_string(self, name: str) -> str:
        try:
            self._ffi.cdef(f"extern const char {name}[];", override=True)
            return self._ffi.string(getattr(self._lib, name)).decode()
        except (AttributeError, KeyError) as e:
            raise LoadError(
                f"{self.path}: no symbol {name!r}: {self.symbol!r} is not a scikinc model in this library"
            ) from e

    def _read_int(self, name: str, required: bool = True):
        try:
            self._ffi.cdef(f"extern int {name};", override=True)
            return int(getattr(self._lib, name))
        except (AttributeError, KeyError) as e:
            if not required:
                return None
            raise LoadError(f"{self.path}: metadata symbol {name!r} not found") from e

    # -- calling ---------------------------------------------------------
    def _prepare(self, a, width: int, what: str) -> tuple[np.ndarray, int | None]:
        try:
            a = np.asarray(a)
        except (TypeError, ValueError) as e:  # ragged lists...
            raise InputError(f"{self.symbol}: {what} is not an array of numbers ({one_line(e)})") from e
        if a.ndim not in (1, 2) or a.shape[-1] != width:
            raise InputError(
                f"{self.symbol}: {what} must have shape ({width},) or (n_rows, {width}); got {a.shape}"
            )
        try:
            if a.dtype.kind == "c":
                raise TypeError("complex values")
            a = np.ascontiguousarray(a, dtype=self.dtype)  # no copy when already right
        except (TypeError, ValueError) as e:
            raise InputError(f"{self.symbol}: {what} must hold real numbers, got an array of dtype {a.dtype} "
                             f"({one_line(e)})") from e
        return a, (None if a.ndim == 1 else a.shape[0])

    def _ptr(self, a: np.ndarray, writable: bool = False):
        return self._ffi.from_buffer(f"{self.float_t}[]", a, require_writable=writable)

    def __call__(self, X, rnd=None, out=None):
        X, rows = self._prepare(X, self.n_inputs, "input")
        args = [self._ptr(X)]
        if self.n_random is not None:
            if rnd is None:
                raise InputError(f"{self.symbol} is generative: call it as f(X, rnd) with "
                                 f"{self.n_random} noise values per row")
            R, rrows = self._prepare(rnd, self.n_random, "rnd")
            if rrows != rows:
                raise InputError(f"{self.symbol}: X and rnd must have the same number of rows")
            args.append(self._ptr(R))
        elif rnd is not None:
            raise InputError(f"{self.symbol} takes no noise input")
        shape = (self.n_outputs,) if rows is None else (rows, self.n_outputs)
        if out is None:
            out = np.empty(shape, dtype=self.dtype)
        elif (not isinstance(out, np.ndarray) or out.shape != shape or out.dtype != self.dtype
              or not out.flags.c_contiguous or not out.flags.writeable):
            raise InputError(f"{self.symbol}: out must be a C-contiguous {self.dtype} array of shape {shape}")
        if rows is None:
            self._single(self._ptr(out, True), *args)
        elif rows:
            self._batch(self._ptr(out, True), *args, rows)
        return out

    def __repr__(self) -> str:
        kind = f", n_random={self.n_random}" if self.n_random is not None else ""
        return (f"MLFunction({str(self.path)!r}, {self.symbol!r}: {self.float_t}, "
                f"n_inputs={self.n_inputs}{kind}, n_outputs={self.n_outputs})")


#: ELF e_machine values of the architectures scikinc builds for
_ELF_MACHINES = {62: "x86_64", 183: "aarch64", 3: "i386", 40: "arm", 243: "riscv64", 21: "ppc64"}


def _elf_arch(path: Path) -> str | None:
    """The architecture an ELF file was built for (None when it is not ELF)."""
    try:
        with open(path, "rb") as f:
            head = f.read(20)
    except OSError:
        return None
    if len(head) < 20 or head[:4] != b"\x7fELF":
        return None
    code = int.from_bytes(head[18:20], "little" if head[5] == 1 else "big")
    return _ELF_MACHINES.get(code, f"ELF machine {code}")


def load(so_path: str | os.PathLike, symbol: str) -> MLFunction:
    """Open ``so_path`` and wrap ``symbol`` as a Python callable."""
    return MLFunction(so_path, symbol)
