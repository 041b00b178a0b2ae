"""Builds the recur wheel with its own librecur.so (pyproject.toml has the
metadata). The source checkout's Makefile builds the library, every
instruction-set tier included, without installing Debian packages (the
build needs the Swift toolchain, liblz4-dev and libprotobuf-c-dev; it says
which are missing). The wheel carries the library, stripped, and the
bundled sunspot forecaster, and is tagged for this platform. Build files go
to out/python-build, so the source tree stays clean."""
import shutil
import subprocess
from pathlib import Path

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

try:
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # setuptools < 70.1
    from wheel.bdist_wheel import bdist_wheel

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
BUILD = ROOT / "out" / "python-build"


class BuildWithLibrary(build_py):
    def run(self):
        super().run()
        if not (ROOT / "Makefile").exists() or not (ROOT / "Package.swift").exists():
            raise SystemExit(f"recur: building the wheel needs the Recur source checkout around {HERE}")
        subprocess.run(["make", "-C", str(ROOT), "RECUR_NO_APT=1", "out/lib/librecur.so"], check=True)
        package = Path(self.build_lib) / "recur"
        shutil.copyfile(ROOT / "out" / "lib" / "librecur.so", package / "librecur.so")
        if shutil.which("strip"):
            subprocess.run(["strip", str(package / "librecur.so")], check=True)
        (package / "data").mkdir(exist_ok=True)
        shutil.copyfile(ROOT / "examples" / "forecast" / "sunspots.recur", package / "data" / "sunspots.recur")


class WithNativeLibrary(Distribution):
    """A distribution holding a native library: installed as platform code."""

    def has_ext_modules(self):
        return True


class PlatformWheel(bdist_wheel):
    """A wheel for this platform, for any Python 3 (the library is loaded
    with ctypes: no Python ABI is involved)."""

    def get_tag(self):
        _, _, platform = super().get_tag()
        return "py3", "none", platform


BUILD.mkdir(parents=True, exist_ok=True)
setup(distclass=WithNativeLibrary, cmdclass={"build_py": BuildWithLibrary, "bdist_wheel": PlatformWheel},
      options={"build": {"build_base": str(BUILD)}, "egg_info": {"egg_base": str(BUILD)}})
