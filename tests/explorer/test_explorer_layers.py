"""The import rule of explorer/ (issue 10): views -> ui -> logic, figures -> lstm_core.

Read from the source with ast, so a module that breaks the rule fails here before anyone
runs it: figures/ imports neither torch nor streamlit nor the layers above it; logic/ never
imports streamlit, figures/ or ui/; ui/ never imports a page; lstm_core never imports the app.
"""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXPLORER = ROOT / "explorer"

# layer -> the top-level names (or explorer sub-packages) its modules must not import
FORBIDDEN = {
    "figures": {"torch", "streamlit", "explorer.logic", "explorer.ui", "explorer.views"},
    "logic": {"streamlit", "explorer.figures", "explorer.ui", "explorer.views"},
    "ui": {"explorer.views"},
}


def imports(path, root=ROOT):
    """Every module `path` imports, relative imports resolved to explorer.<package>...."""
    package = ".".join(path.relative_to(root).parent.parts)  # e.g. explorer.figures
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module
            out.add(mod)
            out |= {f"{mod}.{a.name}" for a in node.names}  # `from explorer import ui` imports explorer.ui
    return out


def breaks(imported, forbidden):
    return sorted(m for m in imported for f in forbidden if m == f or m.startswith(f + "."))


MODULES = sorted(p for layer in FORBIDDEN for p in (EXPLORER / layer).glob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(EXPLORER)))
def test_each_layer_imports_only_the_layers_below(path):
    layer = path.relative_to(EXPLORER).parts[0]
    assert breaks(imports(path), FORBIDDEN[layer]) == []


def test_the_layers_are_all_there_and_lstm_core_does_not_import_the_app():
    assert {p.name for p in EXPLORER.iterdir() if p.is_dir() and not p.name.startswith("_")} == {
        "figures", "logic", "ui", "views"}
    assert {p.name for p in (EXPLORER / "views").iterdir() if p.is_dir() and not p.name.startswith("_")} == {
        "explore", "train", "debug", "lessons"}
    for path in (ROOT / "lstm_core").rglob("*.py"):
        assert breaks(imports(path), {"explorer", "streamlit"}) == [], path


def test_the_rule_catches_a_breach(tmp_path):
    """The checker itself: a figure module importing torch, relative or absolute, is caught."""
    (tmp_path / "explorer" / "figures").mkdir(parents=True)
    bad = tmp_path / "explorer" / "figures" / "bad.py"
    bad.write_text("import torch\nfrom ..logic import subject\nfrom explorer import ui\n")
    found = breaks(imports(bad, tmp_path), FORBIDDEN["figures"])
    assert found == ["explorer.logic", "explorer.logic.subject", "explorer.ui", "torch"]

