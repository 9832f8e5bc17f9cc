"""Errors of the dataset cache (all :class:`~rtnerf.errors.RtnerfError`: one line at the CLI)."""

from __future__ import annotations

from rtnerf.errors import RtnerfError

__all__ = ["DataNotFoundError", "FetchError", "UnknownDatasetError"]


class DataNotFoundError(RtnerfError):
    """A dataset is not in the cache; the message says how to fetch it."""


class UnknownDatasetError(RtnerfError, ValueError):
    """A dataset name that is not in the registry; the message lists the known ones."""


class FetchError(RtnerfError):
    """Fetching a dataset failed; the message says what to do by hand."""
