"""QA stage: retrieve passages, generate an answer, ground it and cite it.

Imports only from :mod:`corpus` and :mod:`indexer`.
"""
