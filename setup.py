"""Builds the context-mixing coder's C kernel (mdlzip/codec/cm_kernel.c); pyproject.toml says the rest."""
import sys

from setuptools import Extension, setup

OPTIMIZE = ["/O2"] if sys.platform == "win32" else ["-O3"]  # integer code only: no flag changes a coded bit

setup(ext_modules=[Extension("mdlzip.codec._cm_kernel", ["mdlzip/codec/cm_kernel.c"], extra_compile_args=OPTIMIZE)])
