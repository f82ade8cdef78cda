"""Measuring ragqa: question files, metrics, BEIR retrieval runs and calibration.

This package sits above :mod:`qa` (it asks a :class:`~qa.pipeline.Pipeline`
questions) and below :mod:`ragqa` (whose CLI parses arguments, calls these
functions and prints); nothing in ``corpus``, ``indexer``, ``qa`` or ``ui``
imports it.

``questions``    reading and checking question files (shared EVAL_FORMAT.md)
``metrics``      the EVAL_FORMAT metrics, pure functions of per-question records
``runner``       asking the questions and keeping what every metric needs
``report``       the human report of ``ragqa eval --out DIR`` (Markdown, plots, CSV)
``beir``         retrieval evaluation on a dataset in the BEIR layout
``calibration``  fitting the abstention model on a question file
"""
