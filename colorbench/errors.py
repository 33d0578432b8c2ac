"""UsageError: the user's request or set-up is wrong (a flag, a file, a name, a checkpoint), not the code."""

from __future__ import annotations


class UsageError(ValueError):
    """A problem the user fixes by changing the command or the files it names; the message says how.

    The CLI prints it as one line with exit code 2 (`colorbench --debug` shows the traceback). Any other
    exception is treated as a bug and shows its traceback. It is a ValueError so that code catching the
    ValueErrors these errors used to be keeps working.
    """
