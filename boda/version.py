"""boda's version, in one place (the package, the tuning database's trials, the reports)."""
__version__ = "0.1.0"
