"""README tables generated from the converter registry.

    python -m scikinc.docs            # rewrite the tables in README.md
    python -m scikinc.docs --check    # exit 1 when README.md is out of date
"""
from __future__ import annotations

import sys
from pathlib import Path

from . import registry

BEGIN, END = "<!-- converters:begin -->", "<!-- converters:end -->"


def _family(key: str) -> str:
    if key.startswith(("keras.", "tf_keras.", "tensorflow.")):
        return "Keras"
    if key.startswith("sklearn."):
        return "scikit-learn"
    if key.startswith("lightgbm.") or key == "scikinc.loaders.lightgbm.LightGBMModel":
        return "LightGBM"
    if key.startswith("catboost."):
        return "CatBoost"
    if key.startswith("xgboost.") or key == "scikinc.loaders.xgboost.XGBoostModel":
        return "XGBoost"
    if key.startswith("scikinc."):
        return "scikinc"
    return "plug-in"


def tables() -> str:
    rows: dict[str, list[str]] = {}
    seen = set()
    for c in registry.supported():
        if not c.builtin:
            continue  # plug-ins registered by tests/examples don't belong here
        mod, cls = c.key.rsplit(".", 1)
        fam = _family(c.key)
        if (fam, cls) in seen:
            continue
        seen.add((fam, cls))
        public = ".".join(p for p in mod.split(".") if not p.startswith("_"))
        inv = "✓" if c.inverse is not None else ""
        notes = c.notes.replace("|", "\\|")
        rows.setdefault(fam, []).append(f"| `{cls}` | `{public}` | {inv} | {notes} |")
    out = []
    for fam in ("scikit-learn", "Keras", "XGBoost", "LightGBM", "CatBoost", "scikinc"):
        if fam not in rows:
            continue
        out.append(f"**{fam}**\n")
        out.append("| Class | Module | Inverse | Notes / options |")
        out.append("|---|---|---|---|")
        out.extend(rows[fam])
        out.append("")
    extra = _keras_layers()
    if extra:
        out.append(extra)
    return "\n".join(out).rstrip() + "\n"


def _keras_layers() -> str:
    """Layers and activation names the Keras converter understands, read from
    its own tables (importing it does not import TensorFlow)."""
    try:
        from .converters.keras import activations, supported_layers
    except ImportError:  # pragma: no cover - keras converter absent
        return ""
    layers = [n for n in supported_layers("layers") if not n.startswith("TF")]
    acts = sorted(activations._ACT_NAMES)
    if not layers:
        return ""
    return ("**Keras layers** (inside `Sequential` / functional `Model`; nested models are flattened):\n"
            + ", ".join(f"`{n}`" for n in layers) + "\n\n"
            + "**Keras activations** (`activation=` argument or `Activation` layer):\n"
            + ", ".join(f"`{n}`" for n in acts) + "\n")


def update(readme: Path, check: bool = False) -> bool:
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{readme}: markers {BEGIN} / {END} not found")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{BEGIN}\n{tables()}{END}{tail}"
    if new == text:
        return True
    if check:
        return False
    readme.write_text(new)
    return True


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    readme = Path(next((a for a in argv if not a.startswith("-")), "README.md"))
    ok = update(readme, check="--check" in argv)
    if not ok:
        print(f"{readme} converter tables are out of date: run python -m scikinc.docs", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
