"""Errors caused by user input. The CLI prints these as one line, without a traceback."""

__all__ = ["ConfigError", "RtnerfError"]


class RtnerfError(Exception):
    """Base of all errors caused by bad user input (files, configs, arguments)."""


class ConfigError(RtnerfError, ValueError):
    """A configuration file, mapping or argument that cannot be used."""
