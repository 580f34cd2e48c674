"""Converters of the deployment wrappers in :mod:`scikinc.deploy`.

The parts are converted in the scopes ``pre``, ``generator`` and ``post``
(``Generative``), ``pre`` and ``model`` (``Classifier``): options written
``"sym.model.output"`` reach the model only (see :mod:`scikinc.options`).
"""
from ..core import n_inputs as _n_inputs
from ..deploy import Classifier, Generative
from ..errors import ConversionError
from ..ir import Activation, Concat, Softmax
from ..registry import register_converter


def _width(obj, what):
    try:
        return _n_inputs(obj)
    except ConversionError:
        raise
    except Exception as e:  # a model the registry knows but whose width is unknown
        raise ConversionError(f"cannot tell the input width of the {what}: {e}") from e


def _generative_inputs(gen: Generative) -> int:
    if gen.n_inputs is not None:
        return int(gen.n_inputs)
    if gen.preprocessing is not None:
        n = _width(gen.preprocessing, "preprocessing")
        if n is not None:
            return n
    n = _width(gen.generator, "generator")
    if n is None:
        raise ConversionError("Generative: cannot tell the number of conditions; pass n_inputs=")
    if gen.preprocessing is None:
        if n <= gen.n_random:
            raise ConversionError(
                f"Generative: the generator takes {n} inputs, not more than n_random={gen.n_random}")
        return n - gen.n_random
    raise ConversionError("Generative: cannot tell the number of conditions; pass n_inputs=")


@register_converter(Generative, n_inputs=_generative_inputs,
                    notes="name(out, in, rnd) = post⁻¹(generator(concat(pre(in), rnd))); "
                          "exports name_n_random")
def generative(gen: Generative, g, x, ctx):
    if g.input is not x or len(g.inputs) != 1:
        raise ConversionError("Generative must be the top-level object of a symbol (it adds the rnd input)")
    rnd = g.add_input("rnd", gen.n_random)
    cond = x if gen.preprocessing is None else ctx.convert(gen.preprocessing, g, x, "pre")
    expected = _width(gen.generator, "generator")
    got = cond.width + gen.n_random
    if expected is not None and expected != got:
        raise ConversionError(
            f"Generative: the generator takes {expected} inputs but concat(pre(in), rnd) has {got} "
            f"({cond.width} preprocessed conditions + n_random={gen.n_random})")
    parts = (cond, rnd) if gen.noise_position == "after" else (rnd, cond)
    y = ctx.convert(gen.generator, g, g.add(Concat(), *parts), "generator")
    if gen.postprocessing is not None:
        if not ctx.has_inverse(gen.postprocessing):
            raise ConversionError(
                f"Generative: postprocessing {type(gen.postprocessing).__name__} has no inverse converter")
        y = ctx.convert_inverse(gen.postprocessing, g, y, "post")
    return y


def _classifier_inputs(c: Classifier):
    return _width(c.preprocessing if c.preprocessing is not None else c.model, "model")


@register_converter(Classifier, n_inputs=_classifier_inputs,
                    notes="activation(model(pre(in))), activation None/sigmoid/softmax")
def classifier(c: Classifier, g, x, ctx):
    if c.preprocessing is not None:
        x = ctx.convert(c.preprocessing, g, x, "pre")
    y = ctx.convert(c.model, g, x, "model")
    if c.activation == "sigmoid":
        y = g.add(Activation("sigmoid"), y)
    elif c.activation == "softmax":
        y = g.add(Softmax(), y)
    return y
