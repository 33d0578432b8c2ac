"""Name → object registries for models, datasets and protocols, filled from entry points.

Built-ins are declared in pyproject.toml under the same entry-point groups a third-party package uses
(`colorbench.models`, `colorbench.datasets`, `colorbench.protocols`), so there is one mechanism.
Entries are lazy "module:attr" targets, imported on first use (lm-evaluation-harness shape); a plugin
that fails to import becomes a warning, not a crash of the whole tool (pyiqa shape).
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import importlib.metadata
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from colorbench.errors import UsageError

T = TypeVar("T")


class PluginError(UsageError):
    """A registered plugin cannot be loaded (its module fails to import, or it is not a model/dataset/…)."""


class UnknownNameError(UsageError, KeyError):
    """Raised for a name no registry entry answers to; the message lists what is known."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


@dataclass
class _Entry:
    name: str
    target: Any  # the object, or a "module:attr" string until first use
    origin: str  # "entry point <dist>" or "register() in <module>"
    aliases: tuple[str, ...] = ()


class Registry(Generic[T]):
    """A registry of one kind of thing, discovered from one entry-point group."""

    def __init__(self, kind: str, group: str, check: Callable[[str, Any], None] | None = None) -> None:
        self.kind = kind
        self.group = group
        self._check = check
        self._entries: dict[str, _Entry] = {}
        self._aliases: dict[str, str] = {}
        self._discovered = False

    # -- registration ------------------------------------------------------------------------
    def register(
        self, name: str, target: Any = None, *, aliases: tuple[str, ...] | list[str] = (), origin: str = ""
    ) -> Any:
        """Register `target` (object or "module:attr") under `name`; usable as a decorator."""

        def do(obj: Any) -> Any:
            self._add(name, obj, tuple(aliases), origin or f"register() in {getattr(obj, '__module__', '?')}")
            return obj

        if target is None:
            return do
        return do(target)

    def _add(self, name: str, target: Any, aliases: tuple[str, ...], origin: str) -> None:
        key = _norm(name)
        if not key or not all(c.isalnum() or c in "-_." for c in key):
            raise ValueError(f"invalid {self.kind} name {name!r}: use letters, digits, '-', '_' or '.'")
        known = self._entries.get(key)
        if known is not None and known.origin != origin:
            warnings.warn(f"{self.kind} {name!r} from {origin} replaces the one from {known.origin}", stacklevel=3)
        if not isinstance(target, str) and self._check is not None:
            self._check(key, target)
        self._entries[key] = _Entry(key, target, origin, aliases)
        for alias in aliases:
            self._aliases[_norm(alias)] = key

    # -- discovery -------------------------------------------------------------------------
    def discover(self, force: bool = False) -> None:
        """Load the entry-point group once (again if `force`)."""
        if self._discovered and not force:
            return
        self._discovered = True
        for ep in importlib.metadata.entry_points(group=self.group):
            dist = getattr(getattr(ep, "dist", None), "name", None) or "?"
            # An entry point may point at an object carrying its own aliases (e.g. GuidingPainter → "ours").
            self._add(ep.name, ep.value, (), f"entry point of {dist}")

    # -- lookup -------------------------------------------------------------------------------
    def canonical(self, name: str) -> str:
        """The registered name for `name` or one of its aliases; raises UnknownNameError."""
        self.discover()
        key = _norm(name)
        if key in self._entries:
            return key
        if key in self._aliases:
            return self._aliases[key]
        # Aliases can be declared on a lazily-imported object; resolve everything once before failing.
        for entry_name in list(self._entries):
            self._try_resolve(entry_name)
        if key in self._aliases:
            return self._aliases[key]
        known = sorted(self._entries) + sorted(self._aliases)
        close = difflib.get_close_matches(key, known, n=3)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise UnknownNameError(f"unknown {self.kind} {name!r}.{hint} Known {self.kind}s: {', '.join(known) or 'none'}.")

    def get(self, name: str) -> T:
        """The object registered as `name` (imported on first use). A plugin that fails to import, or is not
        what the registry holds, is a PluginError naming it and its origin; colorbench's own entries' errors
        stay bugs with their traceback."""
        key = self.canonical(name)
        try:
            return self._resolve(key)
        except Exception as exc:
            entry = self._entries[key]
            if isinstance(exc, UsageError) or str(entry.target).startswith("colorbench.") or \
                    getattr(entry.target, "__module__", "").startswith("colorbench."):
                raise
            raise PluginError(f"could not load {self.kind} {key!r} ({entry.origin}): {type(exc).__name__}: "
                              f"{exc}") from exc

    def _resolve(self, key: str) -> Any:
        entry = self._entries[key]
        if isinstance(entry.target, str):
            module_name, _, attr = entry.target.partition(":")
            obj: Any = importlib.import_module(module_name)
            for part in attr.split(".") if attr else []:
                obj = getattr(obj, part)
            if self._check is not None:
                self._check(key, obj)
            entry.target = obj
            for alias in getattr(obj, "aliases", ()) or ():
                self._aliases.setdefault(_norm(alias), key)
        return entry.target

    def _try_resolve(self, key: str) -> None:
        try:
            self._resolve(key)
        except Exception as exc:  # noqa: BLE001 — a broken plugin must not take the tool down
            warnings.warn(f"could not load {self.kind} {key!r} ({self._entries[key].origin}): {exc}", stacklevel=3)

    def names(self, pattern: str = "*") -> list[str]:
        """Registered names matching a shell pattern, sorted."""
        self.discover()
        return sorted(n for n in self._entries if fnmatch.fnmatch(n, _norm(pattern)))

    def aliases_of(self, name: str) -> list[str]:
        key = self.canonical(name)
        self._try_resolve(key)
        return sorted(a for a, k in self._aliases.items() if k == key)

    def resolve_list(self, parts: list[str]) -> list[str]:
        """Canonical names of `parts` (blanks skipped, duplicates dropped, order kept); none at all, or an
        unknown one, raises UnknownNameError listing the known names."""
        out: list[str] = []
        for part in parts:
            if part.strip():
                key = self.canonical(part)
                if key not in out:
                    out.append(key)
        if not out:
            raise UnknownNameError(f"no {self.kind} given. Known {self.kind}s: {', '.join(self.names())}.")
        return out

    def declared_origin(self, name: str, target: str) -> str | None:
        """The origin of `name` if it is declared, not yet imported, as exactly the "module:attr" `target`."""
        self.discover()
        entry = self._entries.get(_norm(name))
        return entry.origin if entry is not None and entry.target == target else None

    def origin(self, name: str) -> str:
        return self._entries[self.canonical(name)].origin

    def __contains__(self, name: str) -> bool:
        try:
            self.canonical(name)
        except UnknownNameError:
            return False
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def unregister(self, name: str) -> None:
        """Remove an entry (used by tests that add temporary plugins)."""
        key = self.canonical(name)
        del self._entries[key]
        for alias in [a for a, k in self._aliases.items() if k == key]:
            del self._aliases[alias]


def _norm(name: str) -> str:
    return name.strip().lower()


def _check_model(name: str, obj: Any) -> None:
    missing = [a for a in ("colorize", "hint_kind", "from_config") if not hasattr(obj, a)]
    if missing:
        raise TypeError(f"model {name!r} ({obj!r}) lacks {', '.join(missing)}: subclass colorbench.model.ColorizerModel")


def _check_dataset(name: str, obj: Any) -> None:
    if not callable(obj):
        raise TypeError(f"dataset {name!r} must be a class or factory returning a colorbench dataset")


def _check_protocol(name: str, obj: Any) -> None:
    if not callable(getattr(obj, "compute", None)):
        raise TypeError(f"protocol {name!r} must have a compute(records, context) method")


MODELS: Registry[Any] = Registry("model", "colorbench.models", _check_model)
DATASETS: Registry[Any] = Registry("dataset", "colorbench.datasets", _check_dataset)
PROTOCOLS: Registry[Any] = Registry("protocol", "colorbench.protocols", _check_protocol)

register_model = MODELS.register
register_dataset = DATASETS.register
register_protocol = PROTOCOLS.register


def resolve_model_names(spec: str, warn: Callable[[str], None] | None = None) -> list[str]:
    """'ours,rtug' → ['guidingpainter', 'rtug']; 'all' → every registered model that loads (built-ins first):
    a plugin that fails to load is left out with one `warn` line (default: warnings.warn), not a crash."""
    if spec.strip().lower() == "all":
        order = ["guidingpainter", "rtug", "alacgan", "pix2pix", "cic"]
        names = MODELS.names()
        usable = []
        for name in [n for n in order if n in names] + [n for n in names if n not in order]:
            try:
                MODELS.get(name)
            except PluginError as exc:
                (warn or (lambda msg: warnings.warn(msg, stacklevel=3)))(f"{exc}; --models all goes on without it")
                continue
            usable.append(name)
        return usable
    return MODELS.resolve_list(spec.split(","))
