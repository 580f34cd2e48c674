"""scikinc: fitted scikit-learn / Keras models -> dependency-free C functions.

    >>> import scikinc
    >>> src = scikinc.convert({"scaler": fitted_scaler})      # C source
    >>> so = scikinc.compile({"scaler": fitted_scaler}, "m.so")
    >>> f = scikinc.load(so, "scaler"); f(X)                  # call from Python
"""
__version__ = "0.1.0"

from .compiler import compile
from .core import Context, convert, header
from .deploy import Classifier, Generative
from .errors import (
    CompileError,
    ConversionError,
    InputError,
    InvalidSymbolError,
    LoadError,
    ModelFileError,
    NotFittedError,
    NotInvertible,
    OptionError,
    OutputError,
    ScikincError,
    UnsupportedModelError,
)
from .harness import MLFunction, load
from .registry import register_converter, register_inverse, supported
from .validation import Report, validate

__all__ = [
    "convert", "compile", "load", "header", "MLFunction", "Context", "Generative", "Classifier",
    "validate", "Report", "register_converter", "register_inverse", "supported",
    "ScikincError", "ConversionError", "UnsupportedModelError", "NotFittedError", "NotInvertible",
    "InvalidSymbolError", "ModelFileError", "CompileError", "LoadError", "OptionError", "InputError",
    "OutputError",
]
