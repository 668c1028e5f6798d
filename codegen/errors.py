"""The one exception type that reaches the user.

A TinyexitError carries a single line that says what went wrong, where, and
what to do about it. The CLI prints it to stderr and exits with code 2; any
other exception is a bug in tinyexit.
"""

import difflib


class TinyexitError(Exception):
    """A problem with the user's input or machine, explained in one line."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def did_you_mean(word: str, choices) -> str:
    """' (did you mean 'x'?)' for the closest of `choices` to a misspelled `word`, or '' when none is close."""
    close = difflib.get_close_matches(word.lower(), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
