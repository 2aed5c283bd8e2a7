"""A Trivy JSON report becomes CRANE's scan report (pure): counts by kind and severity, the
worst findings first, passed checks left out, and never a secret's matched text."""

from crane_shared.scan import DB_UNAVAILABLE, report_from_trivy, unscanned

TRIVY = {
    "Results": [
        {
            "Target": "alpine 3.19",
            "Vulnerabilities": [
                {"VulnerabilityID": "CVE-2024-1", "PkgName": "openssl", "InstalledVersion": "3.1.0",
                 "FixedVersion": "3.1.5", "Severity": "CRITICAL", "Title": "overflow"},
                {"VulnerabilityID": "CVE-2024-2", "PkgName": "zlib", "InstalledVersion": "1.2", "Severity": "LOW"},
            ],
        },
        {
            "Target": "/app/config.env",
            "Secrets": [{"RuleID": "aws-access-key-id", "Severity": "CRITICAL", "Title": "AWS Access Key ID",
                         "StartLine": 1, "Match": "AWS_ACCESS_KEY_ID=AKIA****", "Code": {"Lines": []}}],
        },
        {
            "Target": "img",
            "Misconfigurations": [
                {"ID": "DS002", "Severity": "HIGH", "Title": "root user", "Status": "FAIL"},
                {"ID": "DS026", "Severity": "LOW", "Title": "healthcheck", "Status": "PASS"},
            ],
        },
    ]
}  # fmt: skip


def test_counts_and_findings_worst_first():
    report = report_from_trivy("shop:1", "sha256:ab", TRIVY, "trivy 0.59.1", DB_UNAVAILABLE)
    assert report.counts == {
        "vulnerability": {"CRITICAL": 1, "LOW": 1},
        "secret": {"CRITICAL": 1},
        "misconfiguration": {"HIGH": 1},
    }
    assert [f.id for f in report.findings] == ["aws-access-key-id", "CVE-2024-1", "DS002", "CVE-2024-2"]
    critical = report.findings[1]
    assert (critical.package, critical.installed_version, critical.fixed_version) == ("openssl", "3.1.0", "3.1.5")
    assert report.findings[0].target == "/app/config.env:1"
    assert "AKIA" not in report.model_dump_json()
    assert report.policy_input()["vulnerability_db_available"] is False


def test_an_unscanned_image_says_why():
    report = unscanned("shop:1", "sha256:ab", "no trivy binary is installed")
    assert not report.scanned and report.scanner == "unavailable" and report.policy_input()["error"]


def test_a_report_says_what_it_could_not_look_at():
    assert unscanned("i", "sha256:1", "no trivy binary is installed").limits_note() == (
        "not scanned: no trivy binary is installed"
    )
    partial = report_from_trivy("i", "sha256:1", {"Results": []}, "trivy 0.1", DB_UNAVAILABLE)
    assert partial.limits_note() == "vulnerabilities not looked up: the vulnerability database is not available"
    full = report_from_trivy("i", "sha256:1", {"Results": []}, "trivy 0.1", "trivy-db v2, updated 2026-11-01")
    assert full.limits_note() is None


def test_a_cached_report_stands_only_with_the_database_it_was_made_with():
    before_db = report_from_trivy("i", "sha256:1", {"Results": []}, "trivy 0.1", DB_UNAVAILABLE)
    assert before_db.current_for(DB_UNAVAILABLE)
    assert not before_db.current_for("trivy-db v2, updated 2026-11-01")  # a database arrived: scan again
    older = report_from_trivy("i", "sha256:1", {"Results": []}, "trivy 0.1", "trivy-db v2, updated 2026-11-01")
    assert not older.current_for("trivy-db v2, updated 2026-11-28")  # a newer one: scan again
    assert not unscanned("i", "sha256:1", "trivy failed").current_for(DB_UNAVAILABLE)
