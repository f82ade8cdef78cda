"""Indexer stage: embed chunks and keep them in a FAISS index with a manifest.

Imports only from :mod:`corpus`.
"""
