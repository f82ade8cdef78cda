"""The project's own error types.

Every error a user can meet derives from :class:`RagqaError`, carries a message
that names the bad value and says what to do, and is caught by the CLI and the
chat window to be shown as a plain message rather than a traceback.
"""

from __future__ import annotations


class RagqaError(Exception):
    """Base class of every error ragqa raises on purpose."""


class ConfigError(RagqaError):
    """A setting has a value that cannot work."""


class DocumentError(RagqaError):
    """A document could not be read; the message names the file."""

    def __init__(self, path: object, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class UnsupportedFileTypeError(DocumentError):
    """The file's extension is not one ragqa reads."""


class DocumentTooLargeError(DocumentError):
    """The file (or what it unpacks to) is over the size limit."""


class CollectionError(RagqaError):
    """A folder or path given as a collection cannot be used."""


class SavedIndexError(RagqaError):
    """Base for problems with a saved index."""


class IndexNotFoundError(SavedIndexError):
    """No index has been built at the given location yet."""


class IndexCorruptError(SavedIndexError):
    """A saved index failed its integrity checks and was not loaded."""


class IndexMismatchError(SavedIndexError):
    """A saved index was built with another model or format version."""


class IndexWriteError(SavedIndexError):
    """A new index could not be written (a full disk, no permission); the
    partial build was removed and the old index kept."""


class QuestionError(RagqaError):
    """A question is empty, too long or otherwise unusable."""


class GeneratorError(RagqaError):
    """The answer generator could not be loaded or failed to run."""


class GeneratorCrashedError(GeneratorError):
    """The generator's process died (a native crash, out of memory); it is
    restarted for the next question."""


class EvaluationError(RagqaError):
    """A question file or evaluation input is malformed."""


class SavedModelError(RagqaError):
    """A saved model file (the abstention model) cannot be used: damaged, not
    ours, or missing its manifest; the message gives the command that rebuilds it."""


class SavedModelMismatchError(SavedModelError):
    """A saved model file is of another format version, or was made for another
    model (an abstention model fitted on another embedding model's similarities)."""
