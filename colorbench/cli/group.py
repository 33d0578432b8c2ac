"""The `colorbench` command group: its exit codes, signal and out-of-memory handling; the commands are
added in colorbench/cli/__init__.py (one file per command group).
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any

import click

from colorbench.errors import UsageError, environment_error
from colorbench.progress import STDERR


def _fail(exc: BaseException) -> None:
    from rich.text import Text

    # One unwrapped line, no markup: paths stay copy-pasteable and '[...]' in a message is not eaten as style.
    STDERR.print(Text.assemble(("error:", "bold red"), " ", str(exc)), soft_wrap=True)
    sys.exit(2)


class _Group(click.Group):
    """Turns usage and set-up errors (UsageError) into one readable line and exit code 2; anything else is a
    bug and keeps its traceback, as does every error under `--debug`."""

    def invoke(self, ctx: click.Context) -> Any:
        previous = _handle_signals()
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            # 130 = 128 + SIGINT, the shell's code for Ctrl-C; click's default (1) would read as "regression".
            STDERR.print("interrupted", markup=False)
            sys.exit(130)
        except UsageError as exc:
            if ctx.params.get("debug"):
                _never_a_verdict(ctx, 2)
                raise
            _fail(exc)
        except OSError as exc:
            usage = environment_error(exc)
            if usage is None or ctx.params.get("debug"):
                _never_a_verdict(ctx, 2 if usage is not None else CRASHED)
                raise
            _fail(usage)
        except MemoryError:
            if ctx.params.get("debug"):
                _never_a_verdict(ctx, 2)
                raise
            _fail(_out_of_memory(ctx))
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise  # click's own usage errors and exits: click reports them (exit 2 / their own code)
        except Exception as exc:
            # The signal's exception raised inside a C extension's callback can come out as another error
            # (matplotlib's renderer turns it into "ValueError: Invalid bounding box"): still the interrupt.
            if _RECEIVED and not ctx.params.get("debug"):
                STDERR.print("interrupted", markup=False)
                sys.exit(128 + _RECEIVED[0])
            if _torch_out_of_memory(exc) and not ctx.params.get("debug"):
                _fail(_out_of_memory(ctx))
            _never_a_verdict(ctx, CRASHED)
            raise
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


CRASHED = 3  # `check` hit a bug: its traceback, and a code no CI reads as a verdict (Python's own would be 1)


def _never_a_verdict(ctx: click.Context, code: int) -> None:
    """Under `check`, where exit code 1 means "regression", end an escaping exception (a bug, or a usage error
    under --debug) with its traceback and `code` instead of Python's exit code 1. Other commands: no-op."""
    if ctx.invoked_subcommand != "check":
        return
    import traceback

    traceback.print_exc()
    if code == CRASHED:
        STDERR.print(f"check crashed (exit {CRASHED}): a bug in colorbench or a plugin, not a verdict on the "
                     "checkpoint", style="bold red", markup=False)
    sys.exit(code)


_RECEIVED: list[int] = []  # the SIGINT/SIGTERM this process got, in order
# What to lower when a command runs out of memory (MemoryError): the flags that bound its peak.
_EVAL_MEMORY = ("lower --forward-rows (rows per model call) and --batch-size, or --num-workers or --size; finished "
                "images stay in the cache and are not computed again")
_LOWER = {"run": _EVAL_MEMORY, "check": _EVAL_MEMORY, "train": "lower --batch-size or --size",
          "prepare": "lower --size, or shrink the largest source images"}


def _out_of_memory(ctx: click.Context) -> UsageError:
    command = ctx.invoked_subcommand or ""
    return UsageError(f"out of memory in `colorbench {command}`: {_LOWER.get(command, 'free memory or lower --size')}")


def _torch_out_of_memory(exc: BaseException) -> bool:
    """torch's allocators fail with RuntimeErrors, not MemoryError: CUDA's OutOfMemoryError, and the CPU
    allocator's "DefaultCPUAllocator: can't allocate memory"."""
    if any(cls.__name__ == "OutOfMemoryError" for cls in type(exc).__mro__):
        return True
    return isinstance(exc, RuntimeError) and "DefaultCPUAllocator: can't allocate memory" in str(exc)


def _on_signal(signum: int, _frame: Any) -> None:
    _RECEIVED.append(signum)
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    sys.exit(128 + signum)


def _handle_signals() -> dict[int, Any]:
    """SIGTERM becomes SystemExit(143), so context managers and `finally` blocks run (check's temporary folder,
    the chunk writer) instead of the process vanishing; SIGINT stays KeyboardInterrupt (unless ignored, as in a
    background job). Both are remembered (`_RECEIVED`). → the previous handlers (none off the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    previous = {signal.SIGTERM: signal.signal(signal.SIGTERM, _on_signal)}
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, _on_signal)
    return previous


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show the traceback of usage and set-up errors too (one line without it).")
@click.version_option(package_name="colorbench")
def main(debug: bool) -> None:
    """colorbench — one fair, reproducible protocol for interactive sketch colorization.

    \b
    Typical use:
      colorbench run --models all --dataset toon          # embedded default, shipped checkpoints
      colorbench run --models ours,rtug --dataset yumi --checkpoint ours=a.safetensors --checkpoint rtug=b.safetensors
      colorbench train ours --dataset toon --epochs 20
      colorbench report results/toon                      # re-render, no model runs
      colorbench check --model ours --checkpoint new.safetensors --dataset toon

    \b
    Exit codes: 0 ok · 1 regression (check only) · 2 usage error or bad input (one line
    naming the file or flag) · 3 check crashed (never a verdict) · 130 interrupted (Ctrl-C) ·
    143 terminated (SIGTERM). A traceback means a bug in colorbench.
    """
