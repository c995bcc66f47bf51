import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("TRUSTY_BUILD", ROOT / "build"))
sys.path.insert(0, str(BUILD / "python"))


@pytest.fixture(scope="session")
def trusty_bin():
    exe = BUILD / "bin" / "trusty"
    assert exe.exists(), f"{exe} missing: build first (tools/build.sh)"
    return exe


@pytest.fixture(scope="session")
def root():
    return ROOT


def run_cli(exe, *args):
    return subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True)
