# Rego unit tests of scan.rego, run by `make test` (tests/unit/test_rego_policies.py).
package crane.scan

clean := {
	"image": "shop:1", "digest": "sha256:1", "scanned": true, "error": null,
	"vulnerability_db_available": true,
	"counts": {"vulnerability": {}, "secret": {}, "misconfiguration": {}}, "findings": [],
}

test_a_clean_image_passes if {
	decide(clean).allowed
}

test_critical_vulnerabilities_block if {
	d := decide(object.union(clean, {"counts": {"vulnerability": {"CRITICAL": 2, "HIGH": 5}, "secret": {}, "misconfiguration": {}}}))
	not d.allowed
	d.reasons == ["shop:1: 2 CRITICAL vulnerabilities"]
}

test_high_vulnerabilities_alone_do_not_block if {
	decide(object.union(clean, {"counts": {"vulnerability": {"HIGH": 5}, "secret": {}, "misconfiguration": {}}})).allowed
}

test_secrets_block_and_are_named if {
	inp := object.union(clean, {
		"counts": {"vulnerability": {}, "secret": {"CRITICAL": 2}, "misconfiguration": {}},
		"findings": [
			{"kind": "secret", "id": "aws-access-key-id", "severity": "CRITICAL", "title": "AWS Access Key ID"},
			{"kind": "secret", "id": "aws-secret-access-key", "severity": "CRITICAL", "title": "AWS Secret Access Key"},
		],
	})
	d := decide(inp)
	d.reasons == ["shop:1: 2 secrets found in the image (AWS Access Key ID, AWS Secret Access Key)"]
}

test_misconfigurations_do_not_block_by_default if {
	decide(object.union(clean, {"counts": {"vulnerability": {}, "secret": {}, "misconfiguration": {"HIGH": 1}}})).allowed
}

test_an_unscanned_image_passes_by_default if {
	decide(object.union(clean, {"scanned": false, "error": "no trivy"})).allowed
}
