"""Builds the `trusty` Python package with the project's CMake build (offline: only
Debian's setuptools, wheel and pybind11 are needed).

    /usr/bin/python3 -m venv --system-site-packages ~/.venvs/trusty   # Debian 12: PEP 668
    ~/.venvs/trusty/bin/pip install --no-build-isolation .
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


class CMakeExtension(Extension):
    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        # TRUSTY_SETUP_BUILD_DIR: where CMake builds (default: setuptools' build_temp).
        build = Path(os.environ.get("TRUSTY_SETUP_BUILD_DIR") or Path(self.build_temp).resolve() / "cmake")
        build.mkdir(parents=True, exist_ok=True)
        generator = ["-G", "Ninja"] if shutil.which("ninja") else []
        subprocess.check_call(["cmake", "-S", str(ROOT), "-B", str(build), *generator, "-DCMAKE_BUILD_TYPE=Release",
                               f"-DPython_EXECUTABLE={sys.executable}", "-DTRUSTY_BUILD_TESTS=OFF",
                               "-DTRUSTY_BUILD_BENCH=OFF"])
        subprocess.check_call(["cmake", "--build", str(build), "--target", "_trusty", "--parallel", str(os.cpu_count() or 2)])
        built = next((build / "python" / "trusty").glob("_trusty*.so"))
        dest = Path(self.get_ext_fullpath(ext.name))
        dest.parent.mkdir(parents=True, exist_ok=True)
        self.copy_file(str(built), str(dest))


setup(
    name="trusty",
    version="0.1.0",
    description="Neural networks physicists can trust: a C++ core with Python bindings",
    packages=["trusty"],
    package_dir={"": "python"},
    ext_modules=[CMakeExtension("trusty._trusty")],
    cmdclass={"build_ext": CMakeBuild},
    install_requires=["numpy", "matplotlib"],
    python_requires=">=3.9",
    zip_safe=False,
)
