"""Builds Ondo's one C extension, the Cython matcher (engine/matcher.pyx).

Everything else about the package lives in pyproject.toml. The extension is
required, not optional: a failed build must fail the install, so the engine
never silently falls back to the pure-Python reference (see engine/matching.py).
"""

from Cython.Build import cythonize
from setuptools import Extension, setup

extensions = [
    Extension(
        "engine.matcher",
        ["engine/matcher.pyx"],
        extra_compile_args=["-O3"],
    ),
]

setup(
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
