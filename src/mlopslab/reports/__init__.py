"""Pure renderers: evaluation report, monitoring report, model card."""
