"""The plug-in example: a custom class converted through
``scikinc.register_converter`` (class or qualified name) and through the
``scikinc.converters`` entry-point group."""
import sys
import textwrap

import numpy as np
import pytest
from decorrelation import Decorrelator
from sklearn.base import BaseEstimator, TransformerMixin

import scikinc
from scikinc import registry


def _data(n=5000, seed=0):
    rng = np.random.default_rng(seed)
    A = np.array([[2.0, 0.5, 0.0, 0.1], [0.0, 1.0, 0.8, 0.0], [0.0, 0.0, 0.3, 0.2], [0.4, 0.0, 0.0, 5.0]])
    return rng.normal(size=(n, 4)) @ A + [1.0, -2.0, 30.0, 0.5]


@pytest.mark.parametrize("float_t,rtol", [("float", 2e-6), ("double", 1e-12)])
def test_registered_plugin_matches_the_class(tmp_path, float_t, rtol):
    import scikinc_decorrelation  # noqa: F401  (registers the converters)

    X = _data()
    m = Decorrelator().fit(X)
    so = scikinc.compile({"decor": m}, tmp_path / "decor.so", float_t=float_t)
    f = scikinc.load(so, "decor")
    R = np.concatenate([X[:1500], X[:500] * 10])  # 2000 rows, some far outside
    Rt = R.astype(f.dtype).astype(np.float64)
    expect = m.transform(Rt)
    got = f(Rt)
    scale = (np.abs(Rt) + np.abs(m.mean_)) @ np.abs(m.matrix_)  # size of the terms summed
    assert np.all(np.abs(got - expect) <= rtol * (1 + scale)), np.max(np.abs(got - expect) / (1 + scale))
    np.testing.assert_allclose(np.cov(f(X[:2000]).astype(float), rowvar=False), np.eye(4), atol=0.1)
    assert f.inverse is not None
    back = f.inverse(f(Rt))
    np.testing.assert_allclose(back, Rt, rtol=50 * rtol, atol=50 * rtol * np.abs(Rt).max())


def test_register_by_class_object(tmp_path):
    class LocalDecorrelator(Decorrelator):
        pass

    @scikinc.register_converter(LocalDecorrelator)
    def _conv(obj, g, x, ctx):
        from scikinc.ir import Affine, Dense

        return g.add(Dense(obj.matrix_), g.add(Affine(x.width, sub=obj.mean_), x))

    try:
        X = _data(1200, seed=1)
        m = LocalDecorrelator().fit(X)
        f = scikinc.load(scikinc.compile({"local": m}, tmp_path / "l.so", float_t="double"), "local")
        np.testing.assert_allclose(f(X), m.transform(X), rtol=1e-11, atol=1e-11)
        assert f.inverse is None  # no inverse registered for this class
    finally:
        registry._REGISTRY.pop(registry.qualname(LocalDecorrelator), None)


def test_entry_point_group(tmp_path, monkeypatch):
    """A tiny installed distribution (a .dist-info directory on sys.path)
    declares a 'scikinc.converters' entry point; scikinc finds and calls it
    the first time it looks a converter up."""
    site = tmp_path / "site"
    pkg = site / "tiny_scikinc_plugin"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(textwrap.dedent('''
        import numpy as np
        from sklearn.base import BaseEstimator, TransformerMixin

        CALLS = []

        class Offset(TransformerMixin, BaseEstimator):
            def fit(self, X, y=None):
                self.n_features_in_ = np.asarray(X).shape[1]
                self.offset_ = np.asarray(X).mean(axis=0)
                return self

            def transform(self, X):
                return np.asarray(X) - self.offset_

        def register():
            import scikinc
            from scikinc.ir import Affine

            CALLS.append(1)

            @scikinc.register_converter("tiny_scikinc_plugin.Offset")
            def convert(obj, g, x, ctx):
                return g.add(Affine(x.width, sub=obj.offset_), x)
    '''))
    dist = site / "tiny_scikinc_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: tiny-scikinc-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[scikinc.converters]\ntiny = tiny_scikinc_plugin:register\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(registry, "_loaded", False)  # look the entry points up again
    key = "tiny_scikinc_plugin.Offset"
    try:
        import tiny_scikinc_plugin as plugin

        X = _data(1000, seed=2)
        m = plugin.Offset().fit(X)
        assert plugin.CALLS == []
        conv = registry.lookup(m)  # loads the entry point
        assert plugin.CALLS == [1] and conv.key == key
        f = scikinc.load(scikinc.compile({"offset": m}, tmp_path / "o.so", float_t="double"), "offset")
        np.testing.assert_array_equal(f(X), m.transform(X))
    finally:
        registry._REGISTRY.pop(key, None)
        sys.modules.pop("tiny_scikinc_plugin", None)


def test_subclasses_use_the_parent_converter_and_unknown_classes_are_refused(tmp_path):
    import scikinc_decorrelation  # noqa: F401

    class Tuned(Decorrelator):  # lookup follows the MRO
        pass

    X = _data(1000, seed=3)
    m = Tuned().fit(X)
    f = scikinc.load(scikinc.compile({"tuned": m}, tmp_path / "t.so", float_t="double"), "tuned")
    np.testing.assert_allclose(f(X), m.transform(X), rtol=1e-11, atol=1e-11)

    class Nobody(TransformerMixin, BaseEstimator):
        def fit(self, X, y=None):
            self.n_features_in_ = 4
            return self

    with pytest.raises(scikinc.UnsupportedModelError,
                       match=r"(?s)class .*Nobody: no converter is registered"
                             r".*register_converter.*scikinc\.converters"):
        scikinc.convert({"x": Nobody().fit(X)})
