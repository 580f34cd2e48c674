"""The README's converter tables are generated from the registry: fail on drift."""
from pathlib import Path

from scikinc import docs, registry

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_tables_match_registry():
    assert docs.update(README, check=True), "README converter tables drifted: run `python -m scikinc.docs`"


def test_every_builtin_converter_is_listed():
    text = README.read_text()
    for c in registry.supported():
        if c.builtin:
            assert f"`{c.key.rsplit('.', 1)[1]}`" in text, c.key
