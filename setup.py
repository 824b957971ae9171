"""Only the optional C accelerator lives here; everything else is in pyproject.toml."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("mocks.population_db._kernels", ["mocks/population_db/_kernels.c"],
                             optional=True)])  # no compiler: kernels.py falls back to Python
