"""A job's notification rules on the command line: read from a YAML or JSON file, made by the
`--notify-*` shorthands, compared with what the server stored, and described for `jobs show`.
The CLI checks only the shape it needs to build a request; the server judges each rule (its
type's own settings included) and names the rule and key it refuses."""

import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

import yaml

from solvyd.cli.errors import CliError

NOTIFY_EVENTS = ("failure", "fixed", "success", "started", "cancelled", "always")
DEFAULT_ON = ["failure", "fixed"]

NOTIFICATIONS_HELP = (
    "A YAML or JSON file (- for stdin) with a list of notification rules, replacing the job's; "
    "'none' removes them all. See docs/notifications.md."
)
NOTIFY_EMAIL_HELP = "ADDR[,ADDR]: a rule mailing these addresses. Repeatable."
NOTIFY_SLACK_HELP = "SECRET: a Slack rule; the secret holds the incoming-webhook URL. Repeatable."
NOTIFY_WEBHOOK_HELP = "URL: a rule POSTing a JSON event to this URL. Repeatable."
NOTIFY_SIGNING_HELP = (
    "SECRET: the secret whose value signs the one --notify-webhook's requests (HMAC-SHA256)."
)
NOTIFY_ON_HELP = (
    f"Comma-separated events of the --notify-* rules: {', '.join(NOTIFY_EVENTS)} "
    "(default failure,fixed)."
)
NOTIFY_BRANCHES_HELP = "Comma-separated branch globs the --notify-* rules apply to (default all)."


class _Yaml12Loader(yaml.SafeLoader):
    """YAML 1.1 reads `on`, `yes` and `no` as booleans, so a rule's `on:` key would arrive as
    True; only true and false are booleans here, as in YAML 1.2 (and JSON)."""


_BOOL_TAG = "tag:yaml.org,2002:bool"
_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def read_rules_file(source: str, stdin: TextIO | None = None) -> list[dict[str, Any]]:
    """The rules of `--notifications SOURCE`: a path, `-` for stdin, or `none` for no rules.
    The file holds a list of rules, or a mapping whose `notifications` key does (the job's
    definition kept in one file)."""
    if source == "none":
        return []
    name = "stdin" if source == "-" else source
    if source == "-":
        text = (stdin or sys.stdin).read()
    else:
        try:
            text = Path(source).read_text()
        except OSError as exc:
            raise CliError(f"cannot read {source}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise CliError(f"{source} is not UTF-8 text") from None
    return parse_rules(text, name)


def parse_rules(text: str, name: str) -> list[dict[str, Any]]:
    """`text` (YAML, of which JSON is a part) as a list of rule objects, or one line saying
    what is wrong and where."""
    try:
        data = yaml.load(text, Loader=_Yaml12Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark else name
        raise CliError(f"{where}: not YAML or JSON: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise CliError(f"{name}: not YAML or JSON: {exc}") from None
    if isinstance(data, Mapping) and "notifications" in data:
        data = data["notifications"]
    if data is None:
        return []
    if not isinstance(data, list):
        raise CliError(f"{name}: expected a list of notification rules")
    rules = []
    for index, rule in enumerate(data):
        if not isinstance(rule, Mapping) or not all(isinstance(key, str) for key in rule):
            raise CliError(f"{name}: rule {index} is not a mapping of keys to values")
        if not isinstance(rule.get("type"), str) or not rule["type"]:
            raise CliError(f"{name}: rule {index} needs a type (email, slack, webhook, ...)")
        rules.append(_json_safe(dict(rule), name, index))
    return rules


def _json_safe(rule: dict[str, Any], name: str, index: int) -> dict[str, Any]:
    """YAML has dates and binary values, which a JSON request cannot carry."""
    try:
        return dict(json.loads(json.dumps(rule)))
    except (TypeError, ValueError):
        raise CliError(f"{name}: rule {index} has a value JSON cannot carry (a date?)") from None


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def parse_on(text: str) -> list[str]:
    """`--notify-on` text as the rule's `on` list, in the order given, without repeats."""
    events: list[str] = []
    for event in _csv(text):
        if event not in NOTIFY_EVENTS:
            raise CliError(f"--notify-on: {event!r} is none of {', '.join(NOTIFY_EVENTS)}")
        if event not in events:
            events.append(event)
    if not events:
        raise CliError(f"--notify-on needs at least one of {', '.join(NOTIFY_EVENTS)}")
    return events


def shorthand_rules(
    *,
    email: list[str],
    slack: list[str],
    webhook: list[str],
    webhook_secret: str | None,
    on: str | None,
    branches: str | None,
) -> list[dict[str, Any]]:
    """One rule per `--notify-email`, `--notify-slack` and `--notify-webhook`, each with the
    `--notify-on` events and `--notify-branches` globs."""
    if webhook_secret is not None and len(webhook) != 1:
        raise CliError(
            "--notify-webhook-secret signs one --notify-webhook; for several, use --notifications"
        )
    common: dict[str, Any] = {"on": parse_on(on) if on is not None else list(DEFAULT_ON)}
    if branches is not None:
        common["branches"] = _csv(branches)
    rules: list[dict[str, Any]] = []
    for addresses in email:
        to = _csv(addresses)
        if not to:
            raise CliError("--notify-email needs at least one address")
        rules.append({"type": "email", "to": to, **common})
    for secret in slack:
        if not secret.strip():
            raise CliError("--notify-slack needs the name of the secret holding the webhook URL")
        rules.append({"type": "slack", "webhook_url_secret": secret.strip(), **common})
    for url in webhook:
        if not url.strip():
            raise CliError("--notify-webhook needs a URL")
        rule: dict[str, Any] = {"type": "webhook", "url": url.strip(), **common}
        if webhook_secret:
            rule["signing_secret"] = webhook_secret.strip()
        rules.append(rule)
    if not rules and (on is not None or branches is not None):
        raise CliError(
            "--notify-on and --notify-branches apply to --notify-email, -slack or -webhook rules"
        )
    return rules


def _normal(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A rule as the server means it: the default events filled in, unset keys dropped."""
    normal = {key: value for key, value in rule.items() if value not in (None, [])}
    normal.setdefault("on", list(DEFAULT_ON))
    return normal


def same_rules(stored: list[Any] | None, sent: list[dict[str, Any]]) -> bool:
    """Whether the job's stored rules are the ones sent, however the server filled defaults."""
    stored = stored or []
    if len(stored) != len(sent) or not all(isinstance(rule, Mapping) for rule in stored):
        return False
    return all(_normal(a) == _normal(b) for a, b in zip(stored, sent, strict=True))


_COMMON_KEYS = ("type", "on", "branches")


def _listed(value: Any) -> str:
    return ",".join(map(str, value if isinstance(value, list) else [value]))


def without_query(url: str) -> str:
    """A URL's query may carry the receiver's token: say where, not with what."""
    found = re.search(r"[?#]", url)
    return url if found is None else url[: found.start()] + "?..."


def typed_target(kind: object, target: object) -> str:
    """ "type target", unless the server's target already starts with the type ("Slack
    (secret S)", "webhook https://...")."""
    kind, target = str(kind), str(target)
    return target if target.lower().startswith(kind.lower()) else f"{kind} {target}"


def describe_rule(rule: Any) -> str:
    """One line for a rule: its type, where it sends, when and for which branches. A rule
    names its secrets; it holds no secret value."""
    if not isinstance(rule, Mapping):
        return str(rule)
    kind = str(rule.get("type"))
    if kind == "email":
        to = rule.get("to")
        target = "to " + (", ".join(map(str, to)) if isinstance(to, list) else str(to))
    elif kind == "slack":
        target = f"webhook URL in secret {rule.get('webhook_url_secret')}"
    elif kind == "webhook":
        target = without_query(str(rule.get("url")))
        if rule.get("signing_secret"):
            target += f", signed with secret {rule['signing_secret']}"
    else:  # a plugin's type: its own settings as they are
        own = {key: value for key, value in rule.items() if key not in _COMMON_KEYS}
        target = ", ".join(f"{key}={json.dumps(value)}" for key, value in own.items())
    parts = [kind, target, "on " + _listed(rule.get("on") or DEFAULT_ON)]
    if rule.get("branches"):
        parts.append("branches " + _listed(rule["branches"]))
    return "  ".join(part for part in parts if part)
