"""The `colorbench` command line (click + rich): run, report, check, train, prepare, snail, zoo, study, models,
metrics, datasets, protocols: the group in `group`, one file per command group.

Progress goes to stderr (rich). `run` and `report` print Table 1 and `--compare` on stdout (rich on a
terminal, Markdown into a pipe or file), or on stderr with `--json`, which prints machine-readable results
on stdout, as do the listings of `models`, `datasets` and `protocols`.
Exit codes: 0 ok, 1 regression found (`check` only), 2 usage, set-up or bad-input error
(colorbench.errors.UsageError: one line naming the file or flag and saying what to do; `--debug` shows its
traceback), 3 `check` crashed (a bug: never read as a verdict), 130 interrupted (Ctrl-C), 143 terminated
(SIGTERM). Anything else is a bug and shows its traceback.
"""

from colorbench.cli.check import check
from colorbench.cli.group import main
from colorbench.cli.listings import datasets, metrics, models, protocols
from colorbench.cli.prepare import prepare
from colorbench.cli.run import report, run
from colorbench.cli.snail import snail
from colorbench.cli.study import study
from colorbench.cli.train import train
from colorbench.cli.zoo import zoo

for _command in (run, report, check, train, prepare, snail, zoo, study, models, metrics, datasets, protocols):
    main.add_command(_command)

__all__ = ["main"]
