"""The intermediate representation: a DAG of vector ops (see :mod:`.core`).

``core`` holds the graph and the ops every family shares; the family modules
(``preprocessing``, ``trees``, ``keras``) hold the ops only their converters
create.  Everything in ``core`` is re-exported here.
"""
from .core import Activation, Affine, Binary, Clip, Concat, Constant, Dense, Gather, Graph, Op, Softmax, Value

__all__ = ["Activation", "Affine", "Binary", "Clip", "Concat", "Constant", "Dense", "Gather", "Graph", "Op",
           "Softmax", "Value"]
