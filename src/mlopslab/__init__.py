"""mlopslab: the whole machine-learning lifecycle on a laptop, in seconds."""

__version__ = "0.1.0"
