"""Exceptions for bad user input, shared by every layer (the CLI maps them to exit status 2)."""


class InputError(ValueError):
    """Bad input from a user: the message says what was wrong and what is accepted."""
