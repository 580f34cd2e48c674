"""Before/after: the C that this tree generates for the fixed model corpus
(tests/corpus.py) against the C of the baseline commit, family by family.

Both versions run the same corpus script (this tree's tests/corpus.py) in a
subprocess, the baseline with ``PYTHONPATH`` at its ``src`` extracted by
``git archive``.  Every generated file is compiled with scikinc.compile's
flags and every exported symbol is called through scikinc.load on >= 1000
rows including out-of-range ones (no NaN): the outputs must be BITWISE
identical.  The C text is compared too, after stripping comments, collapsing
whitespace and renaming the static-table identifiers ``<symbol>__...`` to a
canonical sequence: families in ``TEXT_IDENTICAL`` must match; for the others
the differing files are only reported (the refactors change table layouts and
template shapes, not results).

Skips with a reason when git, the baseline commit (shallow clone) or gcc is
missing.  Slow: it compiles a few hundred files.
"""
from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from util import rows, same_bits

import scikinc
from scikinc.compiler import compiler_command

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "corpus.py"
BASELINE = os.environ.get("SCIKINC_BASELINE", "06e3ce9")
#: families whose normalised C text must be identical to the baseline's
TEXT_IDENTICAL: set[str] = set()
#: intended numerical changes since the baseline, by "<family>__<model>": their
#: outputs must stay within CHANGED_RTOL of the baseline's instead of bitwise
KNOWN_CHANGES = {
    "keras__pipe": "ed17cf8: the StandardScaler in front of the Keras net folds into its first Dense "
                   "(like StandardScaler + MLPRegressor): that layer's rounding changes",
}
CHANGED_RTOL = {"float": 1e-5, "double": 1e-12}
#: rows per symbol, and per call for very wide inputs (memory)
N_ROWS = 1000
CHUNK_VALUES = 4_000_000

pytestmark = pytest.mark.slow

FAMILIES = ["scalers", "preprocessing", "trees", "linear", pytest.param("keras", marks=pytest.mark.keras)]


# ---------------------------------------------------------------------------
# the two versions' C
# ---------------------------------------------------------------------------


def _git(*args, **kw):
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, **kw)


def skip_reason(commit: str) -> str | None:
    """Why the comparison with ``commit`` cannot run here, or None."""
    if shutil.which("git") is None:
        return "git is not installed: cannot extract the baseline commit"
    if _git("rev-parse", "--git-dir").returncode != 0:
        return f"{ROOT} is not a git checkout: no baseline commit to compare with"
    if _git("cat-file", "-e", f"{commit}^{{commit}}").returncode != 0:
        shallow = _git("rev-parse", "--is-shallow-repository", text=True).stdout.strip() == "true"
        return f"baseline commit {commit} is not in this clone" + (
            " (shallow clone: git fetch --unshallow)" if shallow else "")
    if shutil.which("gcc") is None:
        return "gcc is not installed"
    return None


@pytest.fixture(scope="module")
def baseline_src(tmp_path_factory) -> Path:
    reason = skip_reason(BASELINE)
    if reason:
        pytest.skip(reason)
    res = _git("archive", "--format=tar", BASELINE, "src")
    assert res.returncode == 0, f"git archive {BASELINE} src failed: {res.stderr.decode()[:2000]}"
    dest = tmp_path_factory.mktemp("baseline")
    with tarfile.open(fileobj=io.BytesIO(res.stdout)) as tar:
        tar.extractall(dest, filter="data")
    return dest / "src"


def _env(src: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(src)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return env


def generate(src: Path, outdir: Path, family: str) -> dict[str, Path]:
    """Run the corpus script with the scikinc found in ``src``; returns
    {file stem: path}."""
    env = _env(src)
    where = subprocess.run([sys.executable, "-c", "import scikinc; print(scikinc.__file__)"],
                           capture_output=True, text=True, env=env, cwd=outdir.parent)
    assert where.returncode == 0, where.stderr[-2000:]
    assert Path(where.stdout.strip()).resolve().is_relative_to(src.resolve()), (
        f"PYTHONPATH={src} imports scikinc from {where.stdout.strip()}")
    res = subprocess.run([sys.executable, str(CORPUS), str(outdir), family], capture_output=True, text=True,
                         env=env, cwd=outdir.parent)
    assert res.returncode == 0, f"tests/corpus.py {family} with scikinc from {src} failed:\n{res.stderr[-4000:]}"
    files = {p.stem: p for p in sorted(outdir.glob(f"{family}__*.c"))}
    assert files, f"tests/corpus.py wrote no {family} files into {outdir}"
    return files


def compile_all(paths: list[Path]) -> None:
    """scikinc.compile's command (default flags) for every file, two at a time,
    with -DSKC_LIBM_MATH: since issue 15 the generated code uses scikinc's own
    exp/log/tanh/erf... by default (ulps from libm, tested in test_own_math.py);
    the macro selects the platform's libm, as the baseline called it, so the
    comparison stays bitwise (the baseline's C ignores it); and -DSKC_ISA_MAX=0:
    the dense kernels' explicit-FMA x86-64-v3/v4 versions (issue 17) round
    differently from the baseline's unfused multiply-adds, the level-0 version
    is those unfused ones."""
    def one(c: Path):
        cmd = compiler_command(c, c.with_suffix(".so"), flags=["-O3", "-DSKC_LIBM_MATH", "-DSKC_ISA_MAX=0"])
        res = subprocess.run(cmd, capture_output=True, text=True)
        return c, cmd, res

    with ThreadPoolExecutor(max_workers=2) as pool:
        for _, cmd, res in pool.map(one, paths):
            assert res.returncode == 0, f"{' '.join(cmd)} failed:\n{res.stderr[:4000]}"


# ---------------------------------------------------------------------------
# C text, normalised
# ---------------------------------------------------------------------------

_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
_STRING = re.compile(r'"(?:\\.|[^"\\])*"')


def symbols(text: str) -> list[str]:
    """Exported model symbols: the ones with a ``<symbol>_float_t[]``."""
    return sorted(set(re.findall(r"\bconst char (\w+)_float_t\[\]", text)))


def normalise(text: str) -> str:
    """Comments out, whitespace collapsed, and every identifier
    ``<symbol>__...`` (static tables and helpers) renamed to ``T<n>`` in
    order of first appearance."""
    strings = []

    def keep(m):  # string literals are not comments
        strings.append(m.group(0))
        return f"\0{len(strings) - 1}\0"

    text = _STRING.sub(keep, text)
    text = _COMMENT.sub(" ", text)
    text = re.sub(r"\0(\d+)\0", lambda m: strings[int(m.group(1))], text)
    names: dict[str, str] = {}
    syms = symbols(text)
    if syms:
        pat = re.compile(r"\b(?:" + "|".join(map(re.escape, syms)) + r")__\w+")
        text = pat.sub(lambda m: names.setdefault(m.group(0), f"T{len(names)}"), text)
    return " ".join(text.split())


# ---------------------------------------------------------------------------
# rows per symbol
# ---------------------------------------------------------------------------


def _corpus_data(k: int) -> np.ndarray:
    sys.path.insert(0, str(CORPUS.parent))
    try:
        import corpus
    finally:
        sys.path.pop(0)
    if 3 <= k <= 5:  # the corpus' own training data
        return corpus._data(k=k)[0]
    return np.random.default_rng(k).normal(size=(200, k))


def row_chunks(k: int, fit: np.ndarray | None = None, seed: int = 0):
    """>= N_ROWS rows (in-range, far out of range, the fitted extremes, 0 and
    1e6), in chunks small enough for very wide inputs."""
    fit = _corpus_data(k) if fit is None else fit
    per = max(16, min(N_ROWS, CHUNK_VALUES // max(k, 1)))
    done = 0
    while done < N_ROWS:
        R = rows(fit, n=per, seed=seed + done)
        done += len(R)
        yield R


# ---------------------------------------------------------------------------
# the test
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_before_after(family, baseline_src, tmp_path):
    old = generate(baseline_src, tmp_path / "old", family)
    new = generate(ROOT / "src", tmp_path / "new", family)
    assert sorted(old) == sorted(new), f"{family}: the two versions wrote different files"
    compile_all([*old.values(), *new.values()])
    text_diff, bit_diff, n_rows = [], [], 0
    for stem in sorted(new):
        ta, tb = old[stem].read_text(), new[stem].read_text()
        sa, sb = symbols(ta), symbols(tb)
        assert sa == sb, f"{stem}: exported symbols differ: {sa} (baseline) vs {sb}"
        if normalise(ta) != normalise(tb):
            text_diff.append(stem)
        forward_out = {}
        for sym in sa:
            fa = scikinc.load(old[stem].with_suffix(".so"), sym)
            fb = scikinc.load(new[stem].with_suffix(".so"), sym)
            assert (fa.n_inputs, fa.n_outputs, fa.n_random, fa.float_t) == \
                (fb.n_inputs, fb.n_outputs, fb.n_random, fb.float_t), f"{stem}:{sym}: metadata differs"
            fit = forward_out.get(sym[:-len("_inverse")]) if sym.endswith("_inverse") else None
            for i, R in enumerate(row_chunks(fb.n_inputs, fit)):
                R = np.ascontiguousarray(R, dtype=fb.dtype)
                rnd = None
                if fb.n_random:
                    rnd = np.random.default_rng(i).normal(size=(len(R), fb.n_random)).astype(fb.dtype)
                ya, yb = fa(R, rnd), fb(R, rnd)
                n_rows += len(R)
                known = KNOWN_CHANGES.get(stem.rsplit("__", 1)[0])
                if known is not None:
                    a, b = ya.astype(np.float64), yb.astype(np.float64)
                    scale = np.nanmax(np.abs(a), axis=0, initial=0)
                    close = np.isclose(a, b, rtol=CHANGED_RTOL[fb.float_t], atol=CHANGED_RTOL[fb.float_t] * scale,
                                       equal_nan=True)
                    if not close.all():
                        bit_diff.append(f"{stem}:{sym} ({known}): {int((~close).sum())} values beyond "
                                        f"{CHANGED_RTOL[fb.float_t]}, e.g. {a[~close][:3].tolist()} (baseline) vs "
                                        f"{b[~close][:3].tolist()}")
                        break
                elif not same_bits(ya, yb):
                    d = (ya != yb) & ~(np.isnan(ya) & np.isnan(yb))
                    bit_diff.append(f"{stem}:{sym}: {int(d.sum())} values differ, e.g. "
                                    f"{ya[d][:3].tolist()} (baseline) vs {yb[d][:3].tolist()}")
                    break
                if i == 0 and fb.n_outputs > 0:
                    forward_out[sym] = np.asarray(yb, dtype=np.float64)
    print(f"\n{family}: {len(new)} files, {n_rows} rows; C text differs (normalised) in "
          f"{len(text_diff)}: {', '.join(text_diff) or '-'}")
    assert not bit_diff, f"{family}: outputs differ from {BASELINE}:\n" + "\n".join(bit_diff)
    if family in TEXT_IDENTICAL:
        assert not text_diff, f"{family}: normalised C text differs from {BASELINE} in {text_diff}"


def test_normalise_strips_comments_and_renames_tables():
    """The text normalisation keeps what matters: code, literals, strings."""
    a = ('/* v1 */\nstatic const double m__3_W[2] = {1.0, 2.0}; // w\nconst char m_float_t[] = "do/*u*/ble";\n'
         "y = m__3_W[0] + m__4_b[1];\n")
    b = ('/* v2, other labels */\nstatic const double m__scaler_W[2] = {1.0,\n  2.0};\n'
         'const char m_float_t[] = "do/*u*/ble";\ny = m__scaler_W[0] + m__net_b[1];\n')
    assert normalise(a) == normalise(b)
    assert "do/*u*/ble" in normalise(a)
    assert normalise(a) != normalise(a.replace("2.0", "2.5"))
    assert normalise(a) != normalise(a.replace("m__4_b[1]", "m__3_W[1]"))
    assert symbols(a) == ["m"]


def test_missing_baseline_is_a_clear_skip_reason():
    if shutil.which("git") is None or _git("rev-parse", "--git-dir").returncode != 0:
        pytest.skip("needs a git checkout")
    assert skip_reason("0123456789abcdef0123456789abcdef01234567").startswith(
        "baseline commit 0123456789abcdef0123456789abcdef01234567 is not in this clone")
