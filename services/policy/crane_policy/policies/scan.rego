# CRANE's image scan policy: decides whether what Trivy found in an image blocks its deploy.
# Default: block on CRITICAL vulnerabilities and on any secret found in the image.
# Admins change it with PUT /api/v1/policies/scan (and try it with POST /policies/dry-run,
# {"package": "scan", ...}).
#
# input:
#   image, digest                 what was scanned
#   scanned                       false when the scanner could not run (error says why)
#   vulnerability_db_available    false when vulnerabilities could not be looked up
#   counts                        {"vulnerability"|"secret"|"misconfiguration": {SEVERITY: n}}
#   findings                      [{kind, id, severity, title, target, ...}]
package crane.scan

# Vulnerability severities that block a deploy.
block_vulnerabilities := ["CRITICAL"]

# Block when a secret (key, token, password) is found in the image.
block_secrets := true

# Misconfiguration severities that block (e.g. ["CRITICAL", "HIGH"]); none by default.
block_misconfigurations := []

# Block images the scanner could not scan at all.
block_unscanned := false

decision := decide(input)

decide(inp) := {"allowed": count(reasons) == 0, "reasons": reasons} if {
	reasons := array.concat(
		array.concat(vulnerabilities(inp), secrets(inp)),
		array.concat(misconfigurations(inp), unscanned(inp)),
	)
}

vulnerabilities(inp) := [msg |
	some severity in block_vulnerabilities
	n := object.get(inp.counts.vulnerability, severity, 0)
	n > 0
	msg := sprintf("%s: %d %s vulnerabilities", [inp.image, n, severity])
]

secrets(inp) := [msg |
	block_secrets
	titles := {f.title | some f in inp.findings; f.kind == "secret"}
	n := sum([v | some v in inp.counts.secret])
	n > 0
	# concat, not sprintf's %s: rego-cpp 1.5 quotes a computed string inside sprintf's output.
	msg := concat("", [sprintf("%s: %d secrets found in the image (", [inp.image, n]), concat(", ", sort(titles)), ")"])
]

misconfigurations(inp) := [msg |
	some severity in block_misconfigurations
	n := object.get(inp.counts.misconfiguration, severity, 0)
	n > 0
	msg := sprintf("%s: %d %s misconfigurations", [inp.image, n, severity])
]

unscanned(inp) := [msg |
	block_unscanned
	not inp.scanned
	msg := sprintf("%s could not be scanned: %s", [inp.image, inp.error])
]
