"""Loaders for CatBoost model files: ``.cbm`` (CatBoost's binary format,
``save_model("m.cbm")``) and ``.json`` (``save_model("m.json",
format="json")``), both read by CatBoost's own ``load_model``.

The model comes back as the scikit-learn style class its loss belongs to
(``CatBoostClassifier`` for Logloss/CrossEntropy/MultiClass/...,
``CatBoostRanker`` for ranking losses, else ``CatBoostRegressor``), so that
``scikinC model.cbm`` gives the same default output as converting the fitted
object (probabilities for a classifier, ``predict`` for a regressor).

Imported lazily by :func:`scikinc.io.load_model_file` for ``.cbm`` files;
``.json`` files are shared with XGBoost: its loader
(:func:`scikinc.loaders.xgboost.load_json_model`) sniffs the document and
hands the JSON files that are not XGBoost models to
:func:`load_catboost_json`.  Importing this module does not import CatBoost.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..converters.catboost import CLASSIFICATION_LOSSES, loss_name
from ..errors import ModelFileError
from ..io import register_loader

#: losses of models loaded as CatBoostRanker (CLASSIFICATION_LOSSES: CatBoostClassifier, others CatBoostRegressor)
RANKING_LOSSES = ("YetiRank", "YetiRankPairwise", "PairLogit", "PairLogitPairwise", "QueryRMSE", "QuerySoftMax",
                  "QueryCrossEntropy", "StochasticFilter", "StochasticRank", "LambdaMart", "GroupQuantile")


def _catboost(path: Path):
    try:
        import catboost
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ModelFileError(f"{path}: reading CatBoost models needs the 'catboost' package "
                             "(pip install catboost)") from e
    return catboost


def load_catboost(path: Path, fmt: str):
    """A CatBoost model file as CatBoostClassifier / CatBoostRegressor / CatBoostRanker."""
    cb = _catboost(path)
    model = cb.CatBoost()
    try:
        model.load_model(str(path), format=fmt)
    except Exception as e:  # noqa: BLE001 - CatBoostError
        raise ModelFileError(f"{path}: not a CatBoost model CatBoost can read ({type(e).__name__}: "
                             f"{str(e).strip().splitlines()[-1] if str(e).strip() else ''})") from e
    if not model.tree_count_:
        raise ModelFileError(f"{path}: not a CatBoost model: CatBoost reads it as a model without trees")
    loss = loss_name(model)
    if loss in CLASSIFICATION_LOSSES:
        return cb.to_classifier(model)
    if loss in RANKING_LOSSES:
        return cb.to_ranker(model)
    return cb.to_regressor(model)


@register_loader(".cbm")
def load_catboost_cbm(path: Path, opts: dict):
    return load_catboost(Path(path), "cbm")


def load_catboost_json(path: Path, opts: dict):
    """A ``.json`` file that is a CatBoost model dump (``features_info`` and
    ``oblivious_trees`` or ``trees`` at the top level)."""
    path = Path(path)
    try:
        doc = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise ModelFileError(f"{path}: not valid JSON ({e})") from e
    if not (isinstance(doc, dict) and "features_info" in doc and ("oblivious_trees" in doc or "trees" in doc)):
        raise ModelFileError(
            f"{path}: a JSON file that is neither an XGBoost model (no 'learner' object) nor a CatBoost model "
            "(no 'features_info' with 'oblivious_trees' or 'trees'); JSON models are read for XGBoost "
            "(Booster.save_model('model.json')) and CatBoost (save_model('model.json', format='json'))")
    return load_catboost(path, "json")
