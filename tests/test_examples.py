"""Every script in examples/frompapers runs to completion in its quick mode and writes its figure."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples" / "frompapers").glob("*.py"))


@pytest.mark.slow
@pytest.mark.parametrize("script", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs_in_quick_mode(script, tmp_path):
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, str(script), "--quick", "--out", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / f"{script.stem}.png").is_file() and (tmp_path / f"{script.stem}.pdf").is_file()
    assert "figure:" in done.stdout


def test_every_example_has_a_docstring_citing_its_paper_and_a_quick_mode():
    assert {p.stem for p in EXAMPLES} >= {
        "cortical_column_video",
        "hrsnn_2022",
        "diehl_cook_2015",
        "song_miller_abbott_2000",
        "respike_hybrid",
    }
    for p in EXAMPLES:
        text = p.read_text()
        assert text.startswith('#!/usr/bin/env python\n"""'), p.name
        assert "doi:" in text or "arXiv" in text, p.name
        assert '"--quick"' in text and '"--out"' in text, p.name
