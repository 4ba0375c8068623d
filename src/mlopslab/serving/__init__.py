"""The live endpoint: model loading, validation, micro-batching, capture."""
