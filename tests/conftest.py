import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

ROOT = Path(__file__).resolve().parents[1]

# SQLamarr (tests/test_sqlamarr.py) links SQLite.  Once TensorFlow is imported, its
# own SQLite copy, built without SQL math functions such as log10, answers
# SQLamarr's calls ("no such function: log10"): load SQLamarr first, before any
# test module imports TensorFlow in this process.
if "asan" not in os.environ.get("LD_PRELOAD", ""):  # .ci/sanitize does not run test_sqlamarr
    try:
        import SQLamarr  # noqa: F401
    except Exception:  # not installed (or no wheel for this platform): test_sqlamarr skips
        pass


def pytest_configure(config):
    """Under pytest-xdist (`make test` runs `-n auto --dist loadfile`), build
    the C++ runtime once in the controller before the workers start: the
    runtime tests and the examples each run `make -C runtime`, and two makes
    writing the same objects at once would race.  With the runtime up to date
    their makes do nothing.  A failure here is left to those tests to report."""
    if hasattr(config, "workerinput") or not getattr(config.option, "numprocesses", None):
        return
    if (ROOT / "runtime" / "Makefile").exists():
        env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}  # not under .ci/sanitize's ASan
        subprocess.run(["make", "-s", "-C", str(ROOT / "runtime"), f"-j{os.cpu_count() or 1}"],
                       capture_output=True, env=env)
