"""The scikinc plug-in for :class:`decorrelation.Decorrelator`.

Importing this module registers the converters; a package can instead
declare it in its metadata so that scikinc finds it on its own::

    [project.entry-points."scikinc.converters"]
    decorrelation = "scikinc_decorrelation:register"

A converter appends IR ops (here a Dense layer: ``x @ W + b``) and never
writes C; the inverse converter is registered the same way.
"""
import scikinc
from scikinc.ir import Affine, Dense

# A class or its qualified name: the string form avoids importing the class
# (useful when it lives in a heavy optional package).
CLASS = "decorrelation.Decorrelator"


def convert(obj, g, x, ctx):
    # (x - mean) @ W  ==  x @ W + (-mean @ W); kept as two ops to follow the
    # class's own operation order (the optimiser folds them where exact enough)
    centred = g.add(Affine(x.width, sub=obj.mean_), x)
    return g.add(Dense(obj.matrix_), centred)


def convert_inverse(obj, g, x, ctx):
    return g.add(Dense(obj.inverse_matrix_, obj.mean_), x)


def register():
    """Entry-point target: register the converters (idempotent)."""
    scikinc.register_converter(CLASS, notes="ZCA whitening; inverse")(convert)
    scikinc.register_inverse(CLASS)(convert_inverse)


register()
