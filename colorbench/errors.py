"""UsageError: the user's request or set-up is wrong (a flag, a file, a name, a checkpoint), not the code."""

from __future__ import annotations

import errno


class UsageError(ValueError):
    """A problem the user fixes by changing the command or the files it names; the message says how.

    The CLI prints it as one line with exit code 2 (`colorbench --debug` shows the traceback). Any other
    exception is treated as a bug and shows its traceback. It is a ValueError so that code catching the
    ValueErrors these errors used to be keeps working.
    """


# OSErrors of the machine, not of colorbench: a full disk or quota, a read-only or forbidden folder.
ENVIRONMENT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


def environment_error(exc: BaseException) -> UsageError | None:
    """The one-line UsageError an OSError of the environment (full disk, read-only folder) stands for, naming
    the file; None for any other exception, which stays a bug with its traceback."""
    if not isinstance(exc, OSError) or exc.errno not in ENVIRONMENT_ERRNOS:
        return None
    where = f"{exc.filename}: " if exc.filename else ""
    return UsageError(f"{where}{exc.strerror or exc}: colorbench needs a writable folder with free space (free "
                      "some, or choose another --out); files are written atomically, none was left half-written")


class ModelError(UsageError):
    """A model's code failed or returned something the engine cannot score (an array that is not a tensor, a
    wrong shape, NaN, regions that are not one-hot): the message names the model and what it returned, since
    it is the plugin's author's to fix, not colorbench's."""
