"""Exceptions raised by scikinc.  All derive from :class:`ScikincError`."""


class ScikincError(Exception):
    """Base class of every error scikinc raises on purpose."""


class ConversionError(ScikincError, ValueError):
    """The model cannot be turned into C (bad configuration, bad option...)."""


class UnsupportedModelError(ConversionError, TypeError):
    """No converter is registered for the object's class."""


class NotFittedError(ConversionError):
    """The estimator has not been fitted."""


class NotInvertible(ConversionError):
    """Raised by an inverse converter when this instance has no inverse."""


class InvalidSymbolError(ConversionError):
    """A symbol name is not a usable C identifier, or is used twice."""


class ModelFileError(ScikincError, OSError):
    """A model file is missing, unreadable, corrupt or untrusted."""


class CompileError(ScikincError, RuntimeError):
    """The C compiler failed; ``stderr`` holds its diagnostics."""

    def __init__(self, message: str, stderr: str = "", command=None):
        super().__init__(message + (f"\n{stderr}" if stderr else ""))
        self.stderr = stderr
        self.command = command


class LoadError(ScikincError, OSError):
    """A shared object or one of its symbols cannot be loaded."""
