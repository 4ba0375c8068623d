"""Monitoring stages: constraint checks, drift and model quality (all pure)."""
