"""Exceptions raised by `retrieval/`; messages name the bad input and the fix."""


class RetrievalError(Exception):
    """Base class for retrieval errors a user can fix."""


class CatalogError(RetrievalError, ValueError):
    """A catalog file or row is unusable."""


class IndexNotFoundError(RetrievalError):
    """Search was asked of an index that was never built."""
