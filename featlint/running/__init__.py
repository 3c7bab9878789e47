"""Running a lint: the per-file engine, the prefilter that skips files no rule can fire on, the result cache and
the worker processes that spread files over CPUs."""
