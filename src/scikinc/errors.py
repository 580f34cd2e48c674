"""Exceptions raised by scikinc.  All derive from :class:`ScikincError`.

Every error a user can provoke (bad model, bad option, bad file, bad input
rows...) is one of these, with a one-line message; the ``scikinC`` command
prints it as ``scikinC: error: <message>`` and exits with status 1.  The
classes also derive from the matching built-in exception (``ValueError``,
``TypeError``, ``OSError``...), so ``except ValueError`` keeps working.
"""


def one_line(e) -> str:
    """``str(e)`` with its line breaks and runs of blanks folded into single spaces."""
    return " ".join(str(e).split()) or type(e).__name__


class ScikincError(Exception):
    """Base class of every error scikinc raises on purpose."""


class ConversionError(ScikincError, ValueError):
    """The model cannot be turned into C (bad configuration, bad option...)."""


class OptionError(ConversionError):
    """A converter option is unknown (misspelt), scoped to an unknown symbol or
    step, given twice, or has a value that no converter in its scope accepts."""


class UnsupportedModelError(ConversionError, TypeError):
    """No converter is registered for the object's class."""


class NotFittedError(ConversionError):
    """The estimator has not been fitted."""


class NotInvertible(ConversionError):
    """Raised by an inverse converter when this instance has no inverse."""


class InvalidSymbolError(ConversionError):
    """A symbol name is not a usable C identifier, or is used twice."""


class ModelFileError(ScikincError, OSError):
    """A model (or data) file is missing, unreadable, corrupt or untrusted."""


class InputError(ScikincError, ValueError):
    """Rows passed to a compiled model (or to ``validate``) have the wrong shape or type."""


class OutputError(ScikincError, OSError):
    """An output file (C source, header, shared object, plot) cannot be written."""


class CompileError(ScikincError, RuntimeError):
    """The C compiler failed; ``stderr`` holds its diagnostics."""

    def __init__(self, message: str, stderr: str = "", command=None):
        super().__init__(message + (f"\n{stderr}" if stderr else ""))
        self.stderr = stderr
        self.command = command


class LoadError(ScikincError, OSError):
    """A shared object or one of its symbols cannot be loaded."""
