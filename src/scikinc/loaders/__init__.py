"""Model-file loaders that need an optional framework (imported lazily by
:func:`scikinc.io.load_model_file`, since importing TensorFlow costs seconds)."""
