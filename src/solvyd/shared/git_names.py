"""Names that reach git's command line from the network: branch and tag names, full refs,
commit shas, a fork's clone URL.

A webhook's branch or sha ends up in the agent's ``git fetch origin SHA``; a value starting
with ``-`` (``--upload-pack=touch /tmp/pwned``) would be read by git as an option and run a
command. The server refuses such values where they come in (the trigger API, the forges'
payloads) and the agent refuses them again before it runs git.

Ref names are checked the way ``git check-ref-format --branch`` checks them (see
https://git-scm.com/docs/git-check-ref-format), plus a length limit: no control character,
space, ``~ ^ : ? * [ \\``; no ``..`` or ``@{``; not ``@``; no component that starts with ``.``
or ends with ``.lock``; no empty component (leading, trailing or doubled ``/``); not ending
with ``.``; and, as ``git branch`` refuses them, not starting with ``-``.
"""

import re
from urllib.parse import urlsplit

# Longer names are refused: no forge makes them, and they only fill logs and columns.
MAX_REF_NAME_LENGTH = 255
MAX_URL_LENGTH = 2048

_SHA = re.compile(r"[0-9a-fA-F]{7,64}")
# Control characters (and DEL), space and the characters check-ref-format refuses anywhere.
_REFUSED_CHARACTER = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")
_TRANSPORT_HELPER = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*::")
_URL_SCHEMES = frozenset({"http", "https", "ssh", "git"})
# git's scp-like form: [user@]host:path, the host without a slash before the colon.
_SCP_LIKE = re.compile(r"(?:[A-Za-z0-9_][A-Za-z0-9._~-]*@)?[A-Za-z0-9][A-Za-z0-9.-]*:.+")


def _shown(value: str) -> str:
    """The value for a message: quoted, and cut so that a huge one does not fill the log."""
    return repr(value if len(value) <= 80 else value[:77] + "...")


def ref_name_problem(name: str) -> str | None:
    """Why `name` is not a branch or tag name git accepts (None when it is one)."""
    if not name:
        return "it is empty"
    if len(name) > MAX_REF_NAME_LENGTH:
        return f"it is longer than {MAX_REF_NAME_LENGTH} characters"
    if name.startswith("-"):
        return "it starts with '-', which git would read as an option"
    bad = _REFUSED_CHARACTER.search(name)
    if bad is not None:
        what = repr(bad.group()) if bad.group() > " " else "a space or control character"
        return f"it holds {what}"
    if name == "@":
        return "it is '@'"
    for sequence in ("..", "@{"):
        if sequence in name:
            return f"it holds {sequence!r}"
    if name.endswith("."):
        return "it ends with '.'"
    for component in name.split("/"):
        if not component:
            return "it starts or ends with '/', or holds '//'"
        if component.startswith("."):
            return "a part of it starts with '.'"
        if component.endswith(".lock"):
            return "a part of it ends with '.lock'"
    return None


def full_ref_problem(ref: str) -> str | None:
    """Why `ref` is not a full ref name under ``refs/`` (such as ``refs/pull/7/head``)."""
    if not ref.startswith("refs/"):
        return "it does not start with 'refs/'"
    return ref_name_problem(ref)


def is_ref_name(name: str) -> bool:
    return ref_name_problem(name) is None


def is_commit_sha(value: str) -> bool:
    """A commit's name in hex: 7 to 64 digits (abbreviated, SHA-1 or SHA-256)."""
    return _SHA.fullmatch(value) is not None


def commit_sha_problem(value: str) -> str | None:
    if is_commit_sha(value):
        return None
    return f"{_shown(value)} is not a commit sha (7 to 64 hexadecimal digits)"


def branch_problem(name: str, what: str = "branch") -> str | None:
    """A message naming `name` and why it cannot be a branch (or tag); None when it can."""
    problem = ref_name_problem(name)
    if problem is None:
        return None
    return f"{_shown(name)} is not a valid git {what} name: {problem}"


def url_problem(url: str) -> str | None:
    """Why git could take `url` for something else than a repository's location: an option
    (a leading ``-``), a control character, or a transport helper (``ext::CMD`` runs a
    command); None when it cannot. A local path passes (with its spaces)."""
    if not url:
        return "the URL is empty"
    if len(url) > MAX_URL_LENGTH:
        return f"the URL is longer than {MAX_URL_LENGTH} characters"
    if url.startswith("-"):
        return "the URL starts with '-', which git would read as an option"
    if _CONTROL_CHARACTER.search(url):
        return "the URL holds a control character"
    if _TRANSPORT_HELPER.match(url):
        return "the URL names a git transport helper (TRANSPORT::ADDRESS)"
    return None


def remote_url_problem(url: str) -> str | None:
    """Why `url` is not a remote repository's URL: `url_problem`, or not an http(s), ssh or
    git URL of a host, nor ssh's scp-like ``user@host:path`` (a local path is refused)."""
    problem = url_problem(url)
    if problem is not None:
        return problem
    if " " in url:
        return "the URL holds a space"
    if "://" in url:
        try:
            parts = urlsplit(url)
            host = parts.hostname or ""
        except ValueError:
            return "the URL cannot be read"
        if parts.scheme.lower() in _URL_SCHEMES and host[:1].isalnum():
            return None
    elif _SCP_LIKE.fullmatch(url):
        return None
    return "the URL is not an http(s), ssh or git URL of a host"
