"""The plugin manager, loading real installed distributions (a dist-info folder and a module
on sys.path, as pip leaves them): built-ins first, refusals, isolation of what raises."""

import uuid
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from solvyd.pipeline.executors.plugins import load_executor_plugins
from solvyd.server.plugins.manager import ServerPlugins, load_server_plugins
from solvyd.shared.plugin_host import PLUGIN_API_VERSION, PluginInfo
from tests.support.plugin_dists import install_plugin

NOTIFIER = """
from solvyd.plugins import Notifier, hookimpl

SOLVYD_PLUGIN_API = "{api}"


class Pager(Notifier):
    type = "{type}"

    def rule_problems(self, rule):
        return []

    async def send(self, notice, rule, ctx):
        return None


@hookimpl
def solvyd_notifiers():
    return [Pager()]
"""


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "site-packages"
    path.mkdir()
    monkeypatch.syspath_prepend(str(path))
    return path


def _module() -> str:
    return f"solvyd_test_plugin_{uuid.uuid4().hex[:10]}"


def _notifier(site: Path, name: str, *, api: str = "1.0", type_: str = "pager") -> None:
    install_plugin(
        site,
        entry_point=name,
        module=_module(),
        source=NOTIFIER.format(api=api, type=type_),
        version="2.3.4",
    )


def _info(plugins: ServerPlugins, name: str) -> PluginInfo:
    [info] = [info for info in plugins.plugins() if info.name == name]
    return info


def test_the_built_ins_load_first_and_a_plugin_adds_its_notifier(site: Path) -> None:
    _notifier(site, "pager")
    plugins = load_server_plugins()
    names = [info.name for info in plugins.plugins()]
    assert names.index("solvyd.forges") < names.index("pager")
    assert _info(plugins, "solvyd.forges").builtin
    assert _info(plugins, "solvyd.forges").provides["forges"] == [
        "github",
        "gitlab",
        "gitea",
        "bitbucket",
    ]
    pager = _info(plugins, "pager")
    assert (pager.status, pager.version, pager.builtin, pager.error) == (
        "loaded",
        "2.3.4",
        False,
        None,
    )
    assert pager.provides == {"notifiers": ["pager"], "forges": [], "artifact_stores": []}
    assert plugins.notifiers()["pager"].type == "pager"


def test_another_major_api_version_is_refused_with_one_clear_log_line(site: Path) -> None:
    _notifier(site, "from-the-future", api="2.0")
    with capture_logs() as logs:
        plugins = load_server_plugins()
    info = _info(plugins, "from-the-future")
    assert info.status == "refused"
    assert "2.0" in (info.error or "") and PLUGIN_API_VERSION in (info.error or "")
    assert "pager" not in plugins.notifiers()
    [line] = [entry for entry in logs if entry.get("plugin") == "from-the-future"]
    assert line["log_level"] == "warning"
    assert line["event"] == (
        "plugin from-the-future 2.3.4 refused: it is built for plugin API 2.0, this Solvyd "
        f"offers {PLUGIN_API_VERSION} (major versions differ)"
    )


def test_a_newer_minor_version_loads(site: Path) -> None:
    _notifier(site, "minor", api="1.9")
    assert _info(load_server_plugins(), "minor").status == "loaded"


def test_a_plugin_that_declares_no_api_version_is_refused(site: Path) -> None:
    install_plugin(site, entry_point="undeclared", module=_module(), source="X = 1\n")
    info = _info(load_server_plugins(), "undeclared")
    assert info.status == "refused"
    assert "SOLVYD_PLUGIN_API" in (info.error or "")


def test_a_plugin_that_raises_on_import_fails_alone(site: Path) -> None:
    install_plugin(
        site,
        entry_point="import-boom",
        module=_module(),
        source="raise RuntimeError('boom at import')\n",
    )
    _notifier(site, "pager")
    plugins = load_server_plugins()
    failed = _info(plugins, "import-boom")
    assert (failed.status, failed.error) == ("failed", "RuntimeError: boom at import")
    assert failed.provides == {}
    assert "pager" in plugins.notifiers()


def test_a_plugin_that_exits_on_import_fails_without_ending_the_process(site: Path) -> None:
    install_plugin(site, entry_point="quitter", module=_module(), source="raise SystemExit(3)\n")
    info = _info(load_server_plugins(), "quitter")
    assert (info.status, info.error) == ("failed", "SystemExit: 3")


def test_a_plugin_whose_hook_raises_fails_and_keeps_nothing(site: Path) -> None:
    install_plugin(
        site,
        entry_point="hook-boom",
        module=_module(),
        source="""
        from solvyd.plugins import hookimpl

        SOLVYD_PLUGIN_API = "1.0"

        @hookimpl
        def solvyd_artifact_stores():
            return {"tape": lambda settings: None}

        @hookimpl
        def solvyd_forges():
            raise ValueError("hook exploded")
        """,
    )
    plugins = load_server_plugins()
    info = _info(plugins, "hook-boom")
    assert (info.status, info.error) == ("failed", "ValueError: hook exploded")
    # Its other hook's store is not half-registered.
    assert "tape" not in plugins.artifact_stores()
    assert set(plugins.forges()) == {"github", "gitlab", "gitea", "bitbucket"}


def test_a_hook_answer_of_the_wrong_shape_fails_the_plugin(site: Path) -> None:
    install_plugin(
        site,
        entry_point="not-a-notifier",
        module=_module(),
        source="""
        from solvyd.plugins import hookimpl

        SOLVYD_PLUGIN_API = "1.0"

        @hookimpl
        def solvyd_notifiers():
            return ["email"]
        """,
    )
    info = _info(load_server_plugins(), "not-a-notifier")
    assert info.status == "failed"
    assert info.error == "TypeError: solvyd_notifiers: expected a Notifier, got str"


def test_a_hook_implementation_with_unknown_arguments_fails(site: Path) -> None:
    install_plugin(
        site,
        entry_point="bad-signature",
        module=_module(),
        source="""
        from solvyd.plugins import hookimpl

        SOLVYD_PLUGIN_API = "1.0"

        @hookimpl
        def solvyd_forges(settings):
            return []
        """,
    )
    info = _info(load_server_plugins(), "bad-signature")
    assert info.status == "failed"
    assert "PluginValidationError" in (info.error or "")


def test_a_plugin_may_not_replace_a_built_in_name(site: Path) -> None:
    install_plugin(
        site,
        entry_point="local-thief",
        module=_module(),
        source="""
        from solvyd.plugins import hookimpl

        SOLVYD_PLUGIN_API = "1.0"

        @hookimpl
        def solvyd_executors():
            return {"local": lambda root, options: None, "elsewhere": lambda root, options: None}
        """,
    )
    host = load_executor_plugins()
    [info] = [info for info in host.plugins() if info.name == "local-thief"]
    assert info.status == "refused"
    assert info.error == (
        "it provides executors 'local', a name a built-in already provides; a plugin may not "
        "replace it"
    )
    assert "elsewhere" not in host.provided("executors")
    assert host.provided("executors")["local"] is not None


def test_the_second_plugin_of_a_name_is_refused_naming_the_first(site: Path) -> None:
    _notifier(site, "pager-a")
    _notifier(site, "pager-b")
    plugins = load_server_plugins()
    assert _info(plugins, "pager-a").status == "loaded"
    second = _info(plugins, "pager-b")
    assert second.status == "refused"
    assert "plugin pager-a already provides" in (second.error or "")


def test_a_name_no_url_or_rule_can_carry_fails_the_plugin(site: Path) -> None:
    _notifier(site, "shouty", type_="PAGER!")
    info = _info(load_server_plugins(), "shouty")
    assert info.status == "failed"
    assert "is not a valid name" in (info.error or "")


def test_an_unknown_artifact_store_stops_the_start_naming_the_known_ones() -> None:
    from solvyd.server.settings import ServerSettings

    with pytest.raises(ValueError, match=r"names no artifact store \(known: local, s3\)"):
        load_server_plugins().create_artifact_store(ServerSettings(artifact_store="tape"))
