"""Packaging: pyproject.toml and environment.yml list the same dependencies."""

import re
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
#: pip name -> conda-forge name where they differ.
CONDA_NAMES = {"opencv-python-headless": "opencv"}


def _split(req: str) -> tuple[str, str]:
    m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", req)
    return m.group(1).lower(), m.group(2).replace(" ", "")


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pip = dict(_split(r) for r in project["dependencies"] + project["optional-dependencies"]["test"])
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    conda = {}
    for dep in env["dependencies"]:
        if isinstance(dep, str):
            name, spec = _split(dep)
            if name not in ("python", "pip"):
                conda[name] = spec
    expected = {CONDA_NAMES.get(k, k): v for k, v in pip.items()}
    assert conda == expected
    python = [d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python")]
    assert python == [f"python{project['requires-python']}"]


def test_cuda_extra_pins_the_brian2_that_brian2cuda_needs():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert "brian2==2.10.1" in project["dependencies"]
    assert any(r.startswith("brian2cuda") for r in project["optional-dependencies"]["cuda"])


def test_packages_import_and_cli_is_declared():
    import analysis  # noqa: F401,E401

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["spikevid"] == "spikevid.cli:main"
    from spikevid.cli import build_parser

    commands = build_parser()._subparsers._group_actions[0].choices
    assert {"run", "stimuli"} <= set(commands)
