"""The plugin manager both programs share: built-ins first, then entry points, each isolated.

The server and the agent each build one `PluginHost` at start, with their own hook
specifications and built-in plugins; nothing here knows what an executor or a notifier is.
A `Kind` names one hook and how to read what it returns (named things). After loading, a
lookup is a dict read: `host.provided("executors")`.

A plugin is refused (status "refused", nothing of it used) when its `SOLVYD_PLUGIN_API` is
missing or of another major version, or when it names a thing a built-in or an earlier plugin
already provides. A plugin that raises while it is imported, registered or asked for its
things is "failed", with the error's text. Either way the process goes on without it.
"""

import importlib.metadata
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Literal

import pluggy
import structlog

log = structlog.get_logger(__name__)

PLUGIN_API_VERSION = "1.1"
PROJECT_NAME = "solvyd"
ENTRY_POINT_GROUP = "solvyd.plugins"
API_ATTRIBUTE = "SOLVYD_PLUGIN_API"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

PluginStatus = Literal["loaded", "refused", "failed"]

# What a plugin may name a thing it provides: what a rule's "type", an executor's --executor
# and a URL path segment (/hooks/{forge}) can carry.
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}")
MAX_ERROR_CHARS = 1000


@dataclass(frozen=True)
class Kind:
    """One sort of thing plugins provide: its hook, and `items`, which turns the hook's answer
    into (name, thing) pairs, raising TypeError or ValueError for an answer of the wrong
    shape."""

    name: str
    hook: str
    items: Callable[[Any], Iterable[tuple[str, object]]]


@dataclass(frozen=True)
class Builtin:
    name: str
    module: ModuleType

    def loaded(self) -> ModuleType:
        return self.module


@dataclass
class PluginInfo:
    name: str
    version: str | None
    builtin: bool
    status: PluginStatus
    error: str | None = None
    # Kind name -> the names this plugin provides (empty lists when refused or failed).
    provides: dict[str, list[str]] = field(default_factory=dict)


class PluginRefused(Exception):
    """The plugin must not be used; the message says why."""


def named_by_key(answer: Any, check: Callable[[object], object]) -> list[tuple[str, object]]:
    """The items of a hook's dict answer, each value passed through `check`."""
    if not isinstance(answer, Mapping):
        raise TypeError(f"the hook must return a dict, not {type(answer).__name__}")
    return [(_name(key), check(value)) for key, value in answer.items()]


def named_by_attribute(
    answer: Any, attribute: str, check: Callable[[object], object]
) -> list[tuple[str, object]]:
    """The items of a hook's list answer, each named by its `attribute`."""
    if not isinstance(answer, list | tuple):
        raise TypeError(f"the hook must return a list, not {type(answer).__name__}")
    return [(_name(getattr(check(item), attribute, None)), item) for item in answer]


def _name(value: object) -> str:
    if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a valid name (lower-case letters, digits, '_', '.', '-'; "
            "at most 63 characters, starting with a letter or digit)"
        )
    return value


def major(version: str) -> str:
    return version.split(".", 1)[0].strip()


class PluginHost:
    """Loads the plugins of one program and keeps what each provides."""

    def __init__(
        self, specs: ModuleType | type, kinds: Sequence[Kind], builtins: Sequence[Builtin]
    ) -> None:
        self._pm = pluggy.PluginManager(PROJECT_NAME)
        self._pm.add_hookspecs(specs)
        self._kinds = tuple(kinds)
        self._plugins: dict[str, PluginInfo] = {}
        self._provided: dict[str, dict[str, object]] = {kind.name: {} for kind in self._kinds}
        # Kind name -> thing name -> the plugin that provides it.
        self._owners: dict[str, dict[str, str]] = {kind.name: {} for kind in self._kinds}
        for builtin in builtins:
            self._add(builtin.name, _solvyd_version(), builtin=True, load=builtin.loaded)

    def load_entry_points(self, entry_points: Iterable[importlib.metadata.EntryPoint]) -> None:
        """Load every plugin named by `entry_points` (normally `discover()`), in name order."""
        for entry_point in sorted(entry_points, key=lambda ep: ep.name):
            dist = getattr(entry_point, "dist", None)
            version = dist.version if dist is not None else None
            self._add(entry_point.name, version, builtin=False, load=entry_point.load)

    def plugins(self) -> list[PluginInfo]:
        return list(self._plugins.values())

    def provided(self, kind: str) -> dict[str, object]:
        """Name -> thing, of every loaded plugin, built-ins first. The caller must not change
        it."""
        return self._provided[kind]

    def _add(
        self, name: str, version: str | None, *, builtin: bool, load: Callable[[], Any]
    ) -> None:
        if name in self._plugins:
            self._refuse_duplicate(name, version)
            return
        try:
            module = load()
            self._check_api(name, version, module)
            self._register(name, module)
            found = self._collect(name, module)
            self._check_names(name, builtin, found)
        except PluginRefused as exc:
            self._pm_forget(name)
            self._plugins[name] = PluginInfo(name, version, builtin, "refused", str(exc))
            log.warning(f"plugin {_label(name, version)} refused: {exc}", plugin=name)
            return
        except (Exception, SystemExit) as exc:
            # SystemExit too: a plugin's module-level sys.exit() must not end the server.
            self._pm_forget(name)
            error = _error_text(exc)
            self._plugins[name] = PluginInfo(name, version, builtin, "failed", error)
            log.error(f"plugin {_label(name, version)} failed: {error}", plugin=name)
            return
        provides: dict[str, list[str]] = {kind.name: [] for kind in self._kinds}
        for kind_name, items in found.items():
            for item_name, thing in items:
                self._provided[kind_name][item_name] = thing
                self._owners[kind_name][item_name] = name
                provides[kind_name].append(item_name)
        self._plugins[name] = PluginInfo(name, version, builtin, "loaded", provides=provides)

    def _refuse_duplicate(self, name: str, version: str | None) -> None:
        # The first keeps its entry: the second is logged, not listed under the same name.
        log.warning(
            f"plugin {_label(name, version)} refused: a plugin of that name is already loaded "
            "(two installed distributions declare the same entry point name)",
            plugin=name,
        )

    def _check_api(self, name: str, version: str | None, module: object) -> None:
        asked = getattr(module, API_ATTRIBUTE, None)
        if not isinstance(asked, str) or not asked.strip():
            raise PluginRefused(
                f"it declares no {API_ATTRIBUTE}; this Solvyd offers plugin API "
                f'{PLUGIN_API_VERSION} (set {API_ATTRIBUTE} = "{PLUGIN_API_VERSION}" in the '
                "plugin's module)"
            )
        if major(asked) != major(PLUGIN_API_VERSION):
            raise PluginRefused(
                f"it is built for plugin API {asked[:20]}, this Solvyd offers "
                f"{PLUGIN_API_VERSION} (major versions differ)"
            )

    def _register(self, name: str, module: object) -> None:
        try:
            self._pm.register(module, name=name)
        except ValueError as exc:
            # pluggy: the same module object under two names.
            raise PluginRefused(str(exc)) from None

    def _collect(self, name: str, module: object) -> dict[str, list[tuple[str, object]]]:
        found: dict[str, list[tuple[str, object]]] = {}
        for kind in self._kinds:
            caller = getattr(self._pm.hook, kind.hook)
            impls = [impl for impl in caller.get_hookimpls() if impl.plugin is module]
            items: list[tuple[str, object]] = []
            for impl in impls:
                answer = impl.function()
                try:
                    items.extend(kind.items(answer))
                except (TypeError, ValueError) as exc:
                    raise type(exc)(f"{kind.hook}: {exc}") from None
            found[kind.name] = items
        return found

    def _check_names(
        self, name: str, builtin: bool, found: Mapping[str, list[tuple[str, object]]]
    ) -> None:
        for kind in self._kinds:
            seen: set[str] = set()
            for item_name, _thing in found[kind.name]:
                owner = self._owners[kind.name].get(item_name)
                if owner is not None:
                    whose = "a built-in" if self._plugins[owner].builtin else f"plugin {owner}"
                    raise PluginRefused(
                        f"it provides {kind.name} {item_name!r}, a name {whose} already "
                        "provides; a plugin may not replace it"
                    )
                if item_name in seen:
                    raise PluginRefused(f"it provides {kind.name} {item_name!r} twice")
                seen.add(item_name)

    def _pm_forget(self, name: str) -> None:
        plugin = self._pm.get_plugin(name)
        if plugin is not None:
            self._pm.unregister(plugin)


def discover() -> list[importlib.metadata.EntryPoint]:
    """The installed distributions' entry points of group `solvyd.plugins`."""
    return list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))


def _solvyd_version() -> str | None:
    try:
        return importlib.metadata.version("solvyd")
    except importlib.metadata.PackageNotFoundError:
        return None


def _label(name: str, version: str | None) -> str:
    return f"{name} {version}" if version else f"{name} (no version)"


def _error_text(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"
