"""Builds Ondo's one C extension, the Cython matcher (engine/matcher/compiled.pyx), and
makes sure the package carries the browser widget (engine/static/widget.js) and the
marketer's console (engine/static/console/console.js and console.css).

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
STATIC = ROOT / "engine" / "static"
# Each browser bundle: the file the engine serves, the npm package that builds it,
# and the URL that answers 404 without it.
BUNDLES = (
    (STATIC / "widget.js", "widgets", "/widget.js"),
    (STATIC / "console" / "console.js", "console", "/admin/ (the console)"),
)


class BuildWithWidget(build_py):
    """The engine serves /widget.js and the console (/admin/) from its package.
    ``./scripts/run`` and ``./scripts/test`` bundle them with esbuild first; a plain
    ``pip install .`` of a fresh clone bundles them here when npm is at hand."""

    def run(self) -> None:
        for bundle, folder, url in BUNDLES:
            if bundle.is_file() or not (ROOT / folder / "package.json").is_file():
                continue
            npm = shutil.which("npm")
            if npm is None:
                print(f"warning: npm not found: the engine will answer 404 for {url} "
                      f"(build it with: cd {folder} && npm ci && npm run build)", file=sys.stderr)
                continue
            for step in (["ci", "--no-audit", "--no-fund"], ["run", "build"]):
                subprocess.run([npm, *step], cwd=ROOT / folder, check=True)
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
