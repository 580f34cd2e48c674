"""A physics group's own transformer: ZCA decorrelation (whitening).

``fit`` learns the mean and the symmetric whitening matrix
``W = V diag(1 / sqrt(eigenvalues + eps)) V^T`` of the covariance;
``transform`` is ``(X - mean_) @ W_`` and ``inverse_transform`` undoes it.
This module knows nothing about scikinc.
"""
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted


class Decorrelator(TransformerMixin, BaseEstimator):
    def __init__(self, eps=1e-12):
        self.eps = eps

    def fit(self, X, y=None):
        X = np.asarray(X, dtype=np.float64)
        self.n_features_in_ = X.shape[1]
        self.mean_ = X.mean(axis=0)
        cov = np.cov(X - self.mean_, rowvar=False)
        vals, vecs = np.linalg.eigh(cov)
        self.matrix_ = (vecs / np.sqrt(vals + self.eps)) @ vecs.T
        self.inverse_matrix_ = (vecs * np.sqrt(vals + self.eps)) @ vecs.T
        return self

    def transform(self, X):
        check_is_fitted(self)
        return (np.asarray(X, dtype=np.float64) - self.mean_) @ self.matrix_

    def inverse_transform(self, X):
        check_is_fitted(self)
        return np.asarray(X, dtype=np.float64) @ self.inverse_matrix_ + self.mean_
