"""`make browser-deps`: install Debian's Chromium for the browser test of the Airflow UI.

Playwright's own browser download is not used: its builds come from a CDN that machines of this
project cannot reach, and Debian's `chromium` is patched and updated with the rest of the system.
The test drives it through Playwright with `executable_path` set (see tests/browser/). CJK fonts
make Chinese names in DAG docs and data readable on screenshots instead of boxes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

#: Where Debian's package puts its launcher; the browser test looks here first.
CHROMIUM_PATHS = (Path("/usr/bin/chromium"), Path("/usr/bin/chromium-browser"))
APT_PACKAGES = ("chromium", "fonts-noto-cjk")
APT_TIMEOUT_S = 900


def chromium_path() -> Path | None:
    """Debian's Chromium, or CDW_CHROMIUM when it names an executable (another distribution's)."""
    if custom := os.environ.get("CDW_CHROMIUM"):
        path = Path(custom)
        return path if path.is_file() and os.access(path, os.X_OK) else None
    for path in CHROMIUM_PATHS:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    return None


def chromium_version(path: Path) -> str:
    result = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=60)
    return (result.stdout or result.stderr).strip()


def _apt(*args: str) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    command = ["apt-get", *args]
    prefix: list[str] = []
    if os.geteuid() != 0:
        if not shutil.which("sudo"):
            raise SystemExit(
                f"Chromium is missing and this is not root: run `apt-get install -y {' '.join(APT_PACKAGES)}` as root"
            )
        prefix = ["sudo", "-n", "--preserve-env=DEBIAN_FRONTEND"]
    print("+", " ".join(prefix + command), flush=True)
    subprocess.run(prefix + command, env=env, check=True, timeout=APT_TIMEOUT_S)


def install() -> Path:
    """Install Chromium (and the fonts) with apt-get unless it is already there; return its path."""
    if path := chromium_path():
        return path
    if not shutil.which("apt-get"):
        raise SystemExit("Chromium is missing and there is no apt-get: install Chromium and set CDW_CHROMIUM")
    # A fresh machine may have no package lists at all; update once, then install.
    _apt("update", "-q")
    _apt("install", "-y", "-q", "--no-install-recommends", *APT_PACKAGES)
    path = chromium_path()
    if path is None:
        raise SystemExit(f"apt-get installed {', '.join(APT_PACKAGES)} but no Chromium is at {CHROMIUM_PATHS[0]}")
    return path


def playwright_status() -> str:
    """Whether the Python driver is importable (it comes with the project's dev dependencies)."""
    try:
        from importlib.metadata import version

        return f"playwright {version('playwright')}"
    except Exception:  # noqa: BLE001 - any failure means the same thing here
        return "playwright is NOT installed in this environment (make install adds it)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m community_dw.browser_deps", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only report; exit 1 when Chromium is missing")
    args = parser.parse_args(argv)
    if args.check:
        path = chromium_path()
        print(f"chromium: {path or 'missing'}; {playwright_status()}", flush=True)
        return 0 if path else 1
    path = install()
    print(f"chromium: {path} ({chromium_version(path)}); {playwright_status()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
