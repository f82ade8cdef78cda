"""Corpus stage: load files, clean their text and cut it into chunks.

Nothing here imports a later stage (indexer, qa, ui).
"""
