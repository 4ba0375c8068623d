"""Adapters to everything that persists: registry, capture, workspace."""
