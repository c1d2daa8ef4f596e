"""Builds Ondo's one C extension, the Cython matcher (engine/matcher/compiled.pyx), and
makes sure the package carries the browser widget (engine/static/widget.js).

Everything else about the package lives in pyproject.toml. The extension is
required, not optional: a failed build must fail the install, so the engine
never silently falls back to the pure-Python reference (see engine/matcher/__init__.py).
"""

import shutil
import subprocess
import sys
from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
WIDGET = ROOT / "engine" / "static" / "widget.js"


class BuildWithWidget(build_py):
    """The engine serves /widget.js from its package. ``./scripts/run`` and
    ``./scripts/test`` bundle it with esbuild first; a plain ``pip install .``
    of a fresh clone bundles it here when npm is at hand."""

    def run(self) -> None:
        if not WIDGET.is_file() and (ROOT / "widgets" / "package.json").is_file():
            npm = shutil.which("npm")
            if npm is None:
                print("warning: npm not found: the engine will answer 404 for /widget.js "
                      "(build it with: cd widgets && npm ci && npm run build)", file=sys.stderr)
            else:
                for step in (["ci", "--no-audit", "--no-fund"], ["run", "build"]):
                    subprocess.run([npm, *step], cwd=ROOT / "widgets", check=True)
        super().run()


extensions = [
    Extension(
        "engine.matcher.compiled",
        ["engine/matcher/compiled.pyx"],
        extra_compile_args=["-O3"],
    ),
]

setup(
    cmdclass={"build_py": BuildWithWidget},
    ext_modules=cythonize(
        extensions,
        language_level=3,
        compiler_directives={
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
        },
    ),
)
