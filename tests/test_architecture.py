"""The package diagram holds: data flows one way, and no library package imports the application.

    stimuli -> cortex -> networks -> analysis -> spikevid (application)

Imports are read with ``ast`` (function-local ones included), so the check needs no import.
"""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LIBRARIES = ("stimuli", "cortex", "networks", "analysis")
#: Package -> project packages it must not import.
FORBIDDEN = {
    "stimuli": {"cortex", "networks", "analysis", "spikevid"},
    "cortex": {"stimuli", "networks", "analysis", "spikevid"},
    "networks": {"analysis", "spikevid"},
    "analysis": {"spikevid"},
}


def imported_packages(source: str) -> set[str]:
    """Top-level names of every absolute import in ``source`` (anywhere in the module)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def violations(package: str) -> list[str]:
    out = []
    for path in sorted((REPO / package).rglob("*.py")):
        bad = imported_packages(path.read_text()) & FORBIDDEN[package]
        out += [f"{path.relative_to(REPO)} imports {name}" for name in sorted(bad)]
    return out


@pytest.mark.parametrize("package", LIBRARIES)
def test_library_package_respects_the_flow(package):
    assert (REPO / package / "__init__.py").is_file()
    assert violations(package) == []


def test_the_checker_sees_function_local_and_dotted_imports():
    src = "import numpy as np\n\ndef f():\n    from spikevid.experiments import runner\n    import analysis.report\n"
    assert imported_packages(src) == {"numpy", "spikevid", "analysis"}
    assert imported_packages("from . import sibling\nfrom .x import y\n") == set()


def test_every_package_documents_itself_and_declares_its_exports():
    for init in [REPO / p / "__init__.py" for p in LIBRARIES + ("spikevid",)]:
        tree = ast.parse(init.read_text())
        assert ast.get_docstring(tree), f"{init} has no docstring"
        exported = [
            n
            for n in tree.body
            if isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in n.targets)
        ]
        assert exported, f"{init} declares no __all__"
