"""Image scan results (Trivy): what the deployer stores per image digest, sends in scan.completed
and shows on GET /apps/{id}/scan, and how a Trivy JSON report becomes one. Pure."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from .appspec import utcnow

DB_UNAVAILABLE = "vulnerability database unavailable"
SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN")
FindingKind = Literal["vulnerability", "secret", "misconfiguration"]
MAX_FINDINGS = 500


class Finding(BaseModel):
    kind: FindingKind
    id: str
    severity: str
    title: str
    target: str = ""
    package: str | None = None
    installed_version: str | None = None
    fixed_version: str | None = None


class ScanReport(BaseModel):
    """One scan of one image, kept by its digest: redeploying or scaling never scans again."""

    image: str
    digest: str
    scanner: str  # "trivy 0.59.1", or "unavailable"
    vulnerability_db: str  # the database's version and date, or DB_UNAVAILABLE
    scanned: bool = True  # False: the scanner could not run (error says why)
    error: str | None = None
    counts: dict[FindingKind, dict[str, int]] = Field(default_factory=dict)
    findings: list[Finding] = Field(default_factory=list)
    truncated: bool = False
    scanned_at: datetime = Field(default_factory=utcnow)

    def limits_note(self) -> str | None:
        """What this report could not look at, in words (None: a full scan). Unscanned images
        are allowed by default (the scan policy's block_unscanned refuses them): this keeps
        that choice visible on every report."""
        if not self.scanned:
            return f"not scanned: {self.error or 'the scanner could not run'}"
        if self.vulnerability_db == DB_UNAVAILABLE:
            return "vulnerabilities not looked up: the vulnerability database is not available"
        return None

    def current_for(self, vulnerability_db: str) -> bool:
        """Whether this cached report still stands with the scanner's database as it is now (a
        report made before a database arrived, or with an older one, does not)."""
        return self.scanned and self.vulnerability_db == vulnerability_db

    def policy_input(self) -> dict[str, Any]:
        """The input of data.crane.scan.decision."""
        return {
            "image": self.image,
            "digest": self.digest,
            "scanned": self.scanned,
            "error": self.error,
            "vulnerability_db_available": self.vulnerability_db != DB_UNAVAILABLE,
            "counts": {kind: self.counts.get(kind, {}) for kind in ("vulnerability", "secret", "misconfiguration")},
            "findings": [f.model_dump() for f in self.findings],
        }


class ImageVerdict(BaseModel):
    report: ScanReport
    allowed: bool
    reasons: list[str] = Field(default_factory=list)
    cached: bool


class AppScan(BaseModel):
    """What GET /apps/{id}/scan shows: the verdict on each image of the app."""

    app_id: str
    images: dict[str, ImageVerdict] = Field(default_factory=dict)

    @property
    def allowed(self) -> bool:
        return all(v.allowed for v in self.images.values())


def digest_key(digest: str) -> str:
    return "digest." + digest.removeprefix("sha256:")


def app_key(app_id: str) -> str:
    return "app." + app_id


def _count(findings: list[Finding]) -> dict[FindingKind, dict[str, int]]:
    counts: dict[FindingKind, dict[str, int]] = {"vulnerability": {}, "secret": {}, "misconfiguration": {}}
    for finding in findings:
        by_severity = counts[finding.kind]
        by_severity[finding.severity] = by_severity.get(finding.severity, 0) + 1
    return counts


def report_from_trivy(
    image: str, digest: str, trivy: dict[str, Any], scanner: str, vulnerability_db: str
) -> ScanReport:
    """Vulnerabilities, secrets and failed misconfiguration checks of a `trivy image -f json` report."""
    findings: list[Finding] = []
    for result in trivy.get("Results") or []:
        target = str(result.get("Target", ""))
        for vuln in result.get("Vulnerabilities") or []:
            findings.append(
                Finding(
                    kind="vulnerability",
                    id=str(vuln.get("VulnerabilityID", "?")),
                    severity=str(vuln.get("Severity", "UNKNOWN")),
                    title=str(vuln.get("Title") or vuln.get("VulnerabilityID", "")),
                    target=target,
                    package=vuln.get("PkgName"),
                    installed_version=vuln.get("InstalledVersion"),
                    fixed_version=vuln.get("FixedVersion"),
                )
            )
        for secret in result.get("Secrets") or []:
            line = secret.get("StartLine")
            findings.append(
                Finding(
                    kind="secret",
                    id=str(secret.get("RuleID", "?")),
                    severity=str(secret.get("Severity", "UNKNOWN")),
                    title=str(secret.get("Title", "")),  # never the matched text: that is the secret
                    target=f"{target}:{line}" if line else target,
                )
            )
        for check in result.get("Misconfigurations") or []:
            if check.get("Status", "FAIL") != "FAIL":
                continue
            findings.append(
                Finding(
                    kind="misconfiguration",
                    id=str(check.get("ID", "?")),
                    severity=str(check.get("Severity", "UNKNOWN")),
                    title=str(check.get("Title", "")),
                    target=target,
                )
            )
    rank = {severity: i for i, severity in enumerate(SEVERITIES)}
    findings.sort(key=lambda f: (rank.get(f.severity, len(rank)), f.kind, f.id))
    return ScanReport(
        image=image,
        digest=digest,
        scanner=scanner,
        vulnerability_db=vulnerability_db,
        counts=_count(findings),
        findings=findings[:MAX_FINDINGS],
        truncated=len(findings) > MAX_FINDINGS,
    )


def unscanned(image: str, digest: str, error: str) -> ScanReport:
    """What is known when the scanner could not run at all."""
    return ScanReport(
        image=image, digest=digest, scanner="unavailable", vulnerability_db=DB_UNAVAILABLE, scanned=False, error=error
    )
