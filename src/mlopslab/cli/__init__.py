"""The `mlopslab` command line."""
