"""Hatch build hook: the wheel and the sdist carry the built web UI, so `pip install` of either
gives a server that serves the UI with no Node.js on the machine (docs/deploy-image.md).

web/dist is rebuilt (`npm ci` when web/node_modules is stale, then `npm run build`) only when it
is missing or older than the UI's sources; a tree without the sources (an sdist, the image's
wheel stage) uses the web/dist it has. Editable installs (`uv sync`, `make sync`) skip the hook:
they serve the source tree's web/dist, which `make web` builds.
"""

import shutil
import subprocess
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

# What `npm run build` reads (the Makefile's WEB_SOURCES) and what `npm ci` installs from.
SOURCE_DIRS = ("src", "public")
SOURCE_FILES = (
    "index.html",
    "vite.config.ts",
    "tsconfig.json",
    "package.json",
    "package-lock.json",
)
LOCK_FILES = ("package.json", "package-lock.json")
# Where the wheel puts the UI: ServerSettings.resolved_web_dir() looks there first.
WHEEL_WEB_DIR = "solvyd/web"


def _newest_mtime(paths: list[Path]) -> float:
    return max((path.stat().st_mtime for path in paths), default=0.0)


class WebUiBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name == "wheel" and version == "editable":
            return
        web = Path(self.root) / "web"
        dist = web / "dist"
        if self._stale(web, dist):
            self._build(web)
        if not (dist / "index.html").is_file():
            raise RuntimeError(
                f"{dist} has no index.html and {web} has no UI sources to build it from"
            )
        target = WHEEL_WEB_DIR if self.target_name == "wheel" else "web/dist"
        build_data["force_include"][str(dist.resolve())] = target

    def _sources(self, web: Path) -> list[Path]:
        found = [web / name for name in SOURCE_FILES if (web / name).is_file()]
        for name in SOURCE_DIRS:
            if (web / name).is_dir():
                found += [path for path in (web / name).rglob("*") if path.is_file()]
        return found

    def _stale(self, web: Path, dist: Path) -> bool:
        built = dist / "index.html"
        sources = self._sources(web)
        if not sources:
            return False
        return not built.is_file() or built.stat().st_mtime < _newest_mtime(sources)

    def _build(self, web: Path) -> None:
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError(
                f"the web UI in {web / 'dist'} is missing or older than its sources, and "
                "building it needs Node.js 20.19+ with npm (apt-get install nodejs npm), "
                "or build it elsewhere first (`make web`)"
            )
        installed = web / "node_modules" / ".installed"
        locks = [web / name for name in LOCK_FILES if (web / name).is_file()]
        if not installed.is_file() or installed.stat().st_mtime < _newest_mtime(locks):
            self.app.display_info("web UI: npm ci")
            subprocess.run(  # noqa: S603 - npm found on PATH, fixed arguments
                [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=web, check=True
            )
            installed.touch()
        self.app.display_info("web UI: npm run build")
        subprocess.run([npm, "run", "--silent", "build"], cwd=web, check=True)  # noqa: S603
