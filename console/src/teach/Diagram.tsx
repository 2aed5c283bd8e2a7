import type { Part } from "./chains";

type Node = { part: Part; label: string; role: string };

// Laid out as the request and the alert travel: left to right, top to bottom.
const ROWS: Node[][] = [
  [
    { part: "api", label: "api", role: "REST gateway: accepts requests" },
    { part: "nats", label: "NATS", role: "JetStream: every event passes here" },
    { part: "policy", label: "policy", role: "Rego: admits, decides" },
  ],
  [
    { part: "deployer", label: "deployer", role: "Docker: scans, builds, runs replicas" },
    { part: "traefik", label: "Traefik", role: "load balancer in front of the replicas" },
    { part: "replicas", label: "replicas", role: "the app's containers" },
  ],
  [
    { part: "monitor-config", label: "monitor-config", role: "writes targets and alert rules" },
    { part: "prometheus", label: "Prometheus", role: "scrapes metrics, evaluates rules" },
    { part: "alertmanager", label: "Alertmanager", role: "groups and sends alerts" },
    { part: "alert-bridge", label: "alert-bridge", role: "turns alerts into events" },
  ],
];

/** The suite, with the parts the latest step went through lit up. */
export function Diagram({ lit, replicas, caption }: { lit: Set<Part>; replicas: string; caption: string }) {
  return (
    <figure className="diagram" aria-label="The suite">
      {ROWS.map((row, index) => (
        <div className="diagram-row" key={index}>
          {row.map((node) => (
            <div key={node.part} className={`node${lit.has(node.part) ? " lit" : ""}`} data-part={node.part} aria-current={lit.has(node.part) ? "step" : undefined}>
              <strong>{node.label}</strong>
              <small>{node.part === "replicas" ? replicas : node.role}</small>
            </div>
          ))}
        </div>
      ))}
      <figcaption aria-live="polite">{caption}</figcaption>
    </figure>
  );
}
