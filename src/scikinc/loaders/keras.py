"""Loaders for Keras model files: ``.keras`` (Keras 3), legacy HDF5 ``.h5`` /
``.hdf5`` (Keras 2 / tf.keras or Keras 3), and TensorFlow SavedModel
directories written by tf.keras (``model.save(dir)``).

Imported lazily by :func:`scikinc.io.load_model_file`; importing this module
does not import TensorFlow (the loaders do, when called)."""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import ModelFileError
from ..io import register_loader


def _quiet() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _keras3():
    _quiet()
    try:
        import keras
    except ImportError:
        return None
    return keras if int(keras.__version__.split(".")[0]) >= 3 else None


def _tf_keras():
    _quiet()
    try:
        import tf_keras
        return tf_keras
    except ImportError:
        pass
    try:
        import keras
    except ImportError:
        return None
    return keras if int(keras.__version__.split(".")[0]) < 3 else None


def _h5_is_keras2(path: Path) -> bool:
    try:
        import h5py
    except ImportError:  # pragma: no cover
        return False
    try:
        with h5py.File(path, "r") as f:
            ver = f.attrs.get("keras_version", b"")
            ver = ver.decode() if isinstance(ver, bytes) else str(ver)
            return ver.startswith("2.") or ver.startswith("1.")
    except OSError:
        return False


@register_loader(".keras", ".h5", ".hdf5")
def load_keras_file(path: Path, opts: dict):
    """Read a Keras model file without compiling it (no optimizer needed).
    ``.h5`` files written by Keras 2 / tf.keras are read with tf_keras when it
    is installed (exact Keras-2 layer semantics), else with Keras 3."""
    order = []
    if path.suffix.lower() in (".h5", ".hdf5") and _h5_is_keras2(path):
        order = [_tf_keras, _keras3]
    else:
        order = [_keras3, _tf_keras]
    errors = []
    for get in order:
        k = get()
        if k is None:
            continue
        try:
            return k.models.load_model(str(path), compile=False,
                                       **({"safe_mode": opts["safe_mode"]} if "safe_mode" in opts else {}))
        except Exception as e:  # noqa: BLE001 - report every attempt
            errors.append(f"{k.__name__} {getattr(k, '__version__', '')}: {type(e).__name__}: {e}")
    if not errors:
        raise ModelFileError(f"{path}: reading Keras files needs keras>=3 or tf-keras (pip install 'scikinc[keras]')")
    raise ModelFileError(f"{path}: cannot read the Keras model:\n  " + "\n  ".join(errors))


@register_loader("<dir>")
def load_saved_model(path: Path, opts: dict):
    """A TensorFlow SavedModel directory written by tf.keras ``model.save(dir)``
    (it carries the Keras layer graph in ``keras_metadata.pb``)."""
    if not (path / "saved_model.pb").exists():
        raise ModelFileError(f"{path}: a directory but not a TensorFlow SavedModel (no saved_model.pb)")
    if not (path / "keras_metadata.pb").exists():
        raise ModelFileError(
            f"{path}: this SavedModel holds a TensorFlow graph without the Keras layer structure "
            "(e.g. written by Keras 3 model.export() or tf.saved_model.save): scikinc needs the layers. "
            "Save the model with model.save('model.keras') (Keras 3) or tf.keras model.save(dir)")
    k = _tf_keras()
    if k is None:
        raise ModelFileError(f"{path}: reading tf.keras SavedModel directories needs tf-keras "
                             "(pip install tf-keras)")
    try:
        return k.models.load_model(str(path), compile=False)
    except Exception as e:  # noqa: BLE001
        raise ModelFileError(f"{path}: cannot read the SavedModel ({type(e).__name__}: {e})") from e
