"""Metrics, experiment running, result storage and reports."""
