"""One key per repository, whatever URL names it: `https://Host/owner/repo.git`,
`git@host:owner/repo`, `ssh://git@host:22/owner/repo/` and `http://user@host/owner/repo` all
give `host/owner/repo`. A webhook names its repository by several URLs (clone over HTTP and
SSH, the web page); a job by one; they name the same repository when the keys are equal."""

import re
from urllib.parse import urlsplit

# scp-like syntax: [user@]host:path, where the path does not start with "/" twice (git's rule:
# no "://" and a colon before any slash).
_SCP_LIKE = re.compile(r"^(?:[^@/\s]+@)?(?P<host>[^:/\s]+):(?P<path>(?!//)[^\s]+)$")
_NETWORK_SCHEMES = {"http", "https", "ssh", "git", "git+ssh", "ssh+git"}


def repository_key(url: str | None) -> str | None:
    """`host/path` of a network repository URL: host lower-cased; scheme, user, port, a
    trailing `.git` and slashes dropped. None for what names no network repository (a local
    path, a file:// URL, an empty string)."""
    if not url:
        return None
    url = url.strip()
    host: str | None
    if "://" in url:
        try:
            parts = urlsplit(url)
            host = parts.hostname
        except ValueError:
            return None
        if parts.scheme.lower() not in _NETWORK_SCHEMES:
            return None
        path = parts.path
    else:
        match = _SCP_LIKE.match(url)
        if match is None:
            return None
        host, path = match["host"], match["path"]
    if not host:
        return None
    path = path.strip("/")
    path = path.removesuffix(".git").rstrip("/")
    if not path:
        return None
    return f"{host.lower()}/{path}"
