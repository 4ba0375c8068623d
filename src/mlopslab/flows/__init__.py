"""Orchestration: the lifecycle's flows, wiring stages to stores."""
