"""Benchmarks for ragqa: each module prints one JSON object on standard output
and a readable table on standard error. See ``benchmarks/README.md``."""
