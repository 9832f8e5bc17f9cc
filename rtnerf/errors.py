"""Errors caused by user input. The CLI prints these as one line, without a traceback."""

__all__ = ["ConfigError", "RtnerfError", "user_key"]


class RtnerfError(Exception):
    """Base of all errors caused by bad user input (files, configs, arguments)."""


class ConfigError(RtnerfError, ValueError):
    """A configuration file, mapping or argument that cannot be used."""


def user_key(key: object) -> str:
    """A key read from a user's file, fit for a one-line message.

    A printable string is returned as it is (messages put it in backticks); anything else (a
    number, a string holding a newline or a control character) as its ``repr``.
    """
    if isinstance(key, str) and key.isprintable():
        return key
    return repr(key)
