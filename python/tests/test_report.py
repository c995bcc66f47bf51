"""python3 -m trusty.report draws what a run directory holds."""
import json
import subprocess
import sys

import matplotlib.image as mpimg
import pytest

from conftest import BUILD, run_cli


@pytest.mark.parametrize("example,expected", [
    ("xor", {"loss", "accuracy", "grad_norms", "confusion"}),
    ("quadratic", {"loss", "grad_norms", "predictions"}),
])
def test_report_figures(trusty_bin, root, tmp_path, example, expected):
    run = tmp_path / example
    r = run_cli(trusty_bin, "train", root / "examples" / f"{example}.toml", "--out", run, "--quiet")
    assert r.returncode == 0, r.stderr
    out = subprocess.run([sys.executable, "-m", "trusty.report", str(run)], capture_output=True, text=True,
                         env={"PYTHONPATH": str(BUILD / "python"), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    pngs = {p.stem for p in (run / "report").glob("*.png")}
    assert pngs == expected
    for p in (run / "report").glob("*.png"):
        img = mpimg.imread(p)
        assert img.shape[0] > 200 and img.shape[1] > 200
        assert img[..., :3].std() > 0.05  # not blank
    page = (run / "report" / "index.html").read_text()
    assert all(f"{n}.png" in page for n in expected)
    assert json.loads((run / "results.json").read_text())["command"] == "train"


def test_report_on_a_non_run_directory_fails_cleanly(tmp_path):
    out = subprocess.run([sys.executable, "-m", "trusty.report", str(tmp_path)], capture_output=True, text=True,
                         env={"PYTHONPATH": str(BUILD / "python"), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 2
    assert "no results.json" in out.stderr
