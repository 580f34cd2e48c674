"""ColumnTransformer fitted on a real pandas DataFrame: string column names,
make_column_selector (pattern and dtype), callables — resolved at conversion.
The C function takes the row as numbers in the DataFrame's column order."""
import numpy as np
import pytest
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, QuantileTransformer, StandardScaler
from util import check_contract, rows

pd = pytest.importorskip("pandas")


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(0)
    n = 1500
    df = pd.DataFrame({
        "p_true": rng.lognormal(2, 1, n), "eta_true": rng.uniform(2, 5, n), "phi": rng.uniform(-3, 3, n),
        "pid": rng.integers(0, 5, n).astype(np.int64), "charge": rng.choice([-1.0, 1.0], n),
        "nHits": rng.integers(5, 40, n).astype(np.int64),
    })
    return df


@pytest.mark.parametrize("float_t", ["float", "double"])
def test_dataframe_selectors(frame, tmp_path, float_t):
    df = frame
    cts = {
        "by_name": ColumnTransformer([("k", StandardScaler(), ["p_true", "eta_true"]),
                                      ("q", QuantileTransformer(n_quantiles=50), ["phi"])],
                                     remainder="passthrough"),
        "by_pattern": ColumnTransformer([("t", MinMaxScaler(), make_column_selector(pattern="_true$")),
                                         ("i", "passthrough", make_column_selector(dtype_include=np.integer))],
                                        remainder="drop"),
        "by_dtype_exclude": ColumnTransformer([("f", StandardScaler(),
                                                make_column_selector(dtype_exclude=np.integer))],
                                              remainder=MinMaxScaler()),
        "by_callable": ColumnTransformer([("c", StandardScaler(), lambda d: [c for c in d.columns if "h" in c])],
                                         remainder="passthrough"),
        "pipe": make_pipeline(ColumnTransformer([("s", StandardScaler(), ["p_true", "nHits"])],
                                                remainder="passthrough"), MinMaxScaler()),
    }
    for ct in cts.values():
        ct.fit(df)
    X = df.to_numpy(dtype=np.float64)
    R = rows(X, 1200)
    fns = check_contract(cts, tmp_path, float_t=float_t, X=R)
    Rt = R.astype(np.float32 if float_t == "float" else np.float64).astype(np.float64)
    Rdf = pd.DataFrame(Rt, columns=df.columns).astype({c: df[c].dtype for c in df.columns
                                                        if not np.issubdtype(df[c].dtype, np.integer)})
    tol = 2e-5 if float_t == "float" else 1e-12
    for name, ct in cts.items():
        expect = ct.transform(Rdf)
        got = fns[name](Rt).astype(np.float64)
        assert got.shape == expect.shape, name
        np.testing.assert_allclose(got, expect, rtol=tol, atol=tol * (1 + np.abs(expect).max()), err_msg=name)
