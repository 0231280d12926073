"""Packages are found, not listed, so a new subpackage cannot be left out of the wheel;
templates/ and tuning_db/ at the repository root install as boda.templates and
boda.shipped_tuning (package data). Everything else is in pyproject.toml."""
from setuptools import find_packages, setup

setup(packages=find_packages(include=["boda", "boda.*"])
      + ["boda.templates", "boda.shipped_tuning"])
