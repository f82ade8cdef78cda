"""The ragqa application: settings, :mod:`ragqa.app` (settings to a ready
pipeline) and the ``ragqa`` command line.

This package wires the stages together; the stages never import it.
"""

__version__ = "0.1.0"
