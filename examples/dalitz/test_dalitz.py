"""The Dalitz example runs end to end: C host, C++ pipeline and Python agree."""
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.keras
pytest.importorskip("keras")
sys.path.insert(0, str(Path(__file__).parent))
import dalitz  # noqa: E402


def test_dalitz_end_to_end(tmp_path):
    r = dalitz.main(["--events", "3000", "--epochs", "3", "--out", str(tmp_path)])
    c, py = r["c_host"], r["python"]
    assert c.shape == (8, 3)
    np.testing.assert_allclose(c[:, 0], py[:, 0], rtol=1e-6, atol=1e-6)   # GBDT efficiency
    np.testing.assert_allclose(c[:, 1:], py[:, 1:], rtol=1e-5, atol=1e-5)  # Keras resolution
    assert np.array_equal(r["pipeline"], c)  # scikinc-run gives the host's bits


def test_toy_sample_is_physical():
    X, y, sigma = dalitz.toy_sample(20000)
    m12, m13 = X.T
    assert (m12 >= 2 * dalitz.M_PI).all() and (m12 <= dalitz.M_K - dalitz.M_PI0).all()
    assert (m13 >= dalitz.M_PI + dalitz.M_PI0).all() and (m13 <= dalitz.M_K - dalitz.M_PI).all()
    # the 70 GeV pi0 requirement suppresses high m(pi+pi-): efficiency falls with m12
    lo, hi = y[m12 < np.median(m12)].mean(), y[m12 >= np.median(m12)].mean()
    assert 0 < hi < lo < 1
