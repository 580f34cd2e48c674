"""The Lamarr-like example: scikinc-run over a pipeline config agrees with
sklearn + Keras on the same noise, and the one-symbol generative deployment
agrees with the pipeline."""
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.keras
pytest.importorskip("keras")
sys.path.insert(0, str(Path(__file__).parent))
import lamarr  # noqa: E402


def test_lamarr_like_end_to_end(tmp_path):
    r = lamarr.main(["--particles", "2000", "--out", str(tmp_path)])
    assert r["c"].shape == (2000, 9)
    assert r["err"].max() < 1e-4, r["err"].max(0)
    # the same chain as one generative symbol (float models, float noise): same bits up
    # to the rounding of intermediate CSV-free values -> tight agreement
    np.testing.assert_allclose(r["generative"], r["c"], rtol=1e-6, atol=1e-6 * np.abs(r["c"]).max())
    assert (tmp_path / "lamarr.png").stat().st_size > 10000
