"""A short start: the console entry point, libcst imported on first use, and dataclass methods compiled once.

These modules run before anything else and must import almost nothing."""
