"""Measuring and searching kernel candidates (the measurement protocol lives in measure.py)."""
