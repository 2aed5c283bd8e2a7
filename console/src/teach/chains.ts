// The teaching view's model (pure): events grouped into causal chains (the correlation id every
// service carries on, docs/events.md), each step named by the part of the suite that did it.

import { explain, type Decision } from "../pages/Decisions";

export type CraneEvent = {
  seq: string | null; // the stream sequence (the SSE id)
  id: string;
  type: string;
  source: string;
  time: string;
  subject: string | null;
  correlationid?: string | null;
  data: Record<string, unknown>;
};

/** The parts of the suite on the diagram. */
export type Part =
  | "api"
  | "nats"
  | "policy"
  | "deployer"
  | "monitor-config"
  | "prometheus"
  | "alertmanager"
  | "alert-bridge"
  | "traefik"
  | "replicas";

export type Step = { event: CraneEvent; at: number; offsetMs: number; by: string; parts: Part[]; text: string };
export type Chain = { id: string; title: string; startedAt: number; steps: Step[]; spanMs: number };

/** The chain an event belongs to: its correlation id, or its own id when it began one. */
export function chainOf(event: CraneEvent): string {
  return event.correlationid || event.id;
}

const num = (value: unknown): number => (typeof value === "number" ? value : Number(value ?? 0));
const str = (value: unknown): string => (typeof value === "string" ? value : "");

/** Which parts of the suite one event passed through (what lights up on the diagram). */
export function partsOf(event: CraneEvent): Part[] {
  switch (event.type) {
    case "alert.firing":
    case "alert.resolved":
      return ["prometheus", "alertmanager", "alert-bridge"];
    case "lab.load_started":
    case "lab.load_finished":
      return ["api", "traefik", "replicas"];
    case "app.kill_requested":
      return ["api", "deployer"];
    case "container.created":
    case "container.died":
    case "app.deployed":
    case "app.scaled":
    case "app.stopped":
      return ["deployer", "replicas"];
    case "monitoring.updated":
      return ["monitor-config", "prometheus"];
  }
  const service = event.source.replace(/^crane\//, "").split(" ")[0];
  const known: Part[] = ["api", "policy", "deployer", "monitor-config", "alert-bridge"];
  return known.includes(service as Part) ? [service as Part] : ["nats"];
}

/** One event in words, as a student should read it. */
export function describeEvent(event: CraneEvent): string {
  const d = event.data;
  switch (event.type) {
    case "app.created":
      return "request accepted: deploy the app";
    case "app.updated":
      if (d.replicas !== undefined) return `asked for ${num(d.replicas)} replica(s) of ${str(d.service) || "the main service"}`;
      if (d.desired_state) return `asked to ${d.desired_state === "stopped" ? "stop" : "start"} the app`;
      return "asked to change the app";
    case "app.deleted":
      return "asked to delete the app";
    case "app.restart_requested":
      return "asked to restart every replica";
    case "app.kill_requested":
      return `lab: kill replica ${num(d.replica)} of ${str(d.service)}`;
    case "policy.admission":
      return d.allowed ? "admission policy: allowed" : `admission policy: refused (${(d.reasons as string[] | undefined)?.join("; ")})`;
    case "scan.completed":
      return `scanned ${str(d.image)}: ${d.allowed ? "allowed" : "blocked"}${d.cached ? " (cached)" : ""}`;
    case "build.started":
      return `building ${str(d.service)}`;
    case "build.completed":
      return `built ${str(d.service)}${d.cached ? " (cached)" : ""}`;
    case "build.failed":
      return `build of ${str(d.service)} failed: ${str(d.error)}`;
    case "app.deployed":
      return `${num(d.replicas)} replica(s) running`;
    case "app.scaled":
      return `ready replicas ${num(d.previous_replicas)} → ${num(d.replicas)}`;
    case "app.stopped":
      return "every replica stopped";
    case "app.failed":
      return `failed: ${str(d.reason)}`;
    case "app.removed":
      return "removed: nothing of it is left";
    case "container.created":
      return `replica ${str(d.container)} created`;
    case "container.died":
      return `replica ${str(d.container)} died (exit ${d.exit_code ?? "?"}); replacing it`;
    case "monitoring.updated":
      return (d.rules as string[] | undefined)?.length
        ? `targets and rules written: ${(d.rules as string[]).join(", ")}`
        : "targets and rules removed";
    case "alert.firing":
      return `alert ${str(d.alertname)} fired${d.service ? ` on ${str(d.service)}` : ""}`;
    case "alert.resolved":
      return `alert ${str(d.alertname)} resolved`;
    case "policy.decision":
      return explain(d as unknown as Decision);
    case "lab.load_started":
      return `lab: ${num(d.rate)} requests/s for ${num(d.seconds)} s to ${str(d.path)}`;
    case "lab.load_finished":
      return `lab load ${d.stopped ? "stopped" : "done"}: ${num(d.ok)} of ${num(d.sent)} answered${d.p95_ms != null ? `, p95 ${num(d.p95_ms).toFixed(0)} ms` : ""}`;
    default:
      return event.type;
  }
}

function stepOf(event: CraneEvent): Step {
  return {
    event,
    at: Date.parse(event.time),
    offsetMs: 0,
    by: event.source.replace(/^crane\//, ""),
    parts: partsOf(event),
    text: describeEvent(event),
  };
}

/** Events grouped by chain, each chain's steps in time order with their delay from its first;
 *  chains in the order they began. build.progress lines are left out (the build log has them). */
export function groupChains(events: CraneEvent[]): Chain[] {
  const chains = new Map<string, Step[]>();
  for (const event of events) {
    if (event.type === "build.progress") continue;
    const key = chainOf(event);
    chains.set(key, [...(chains.get(key) ?? []), stepOf(event)]);
  }
  const grouped = [...chains.entries()].map(([id, steps]) => {
    const ordered = [...steps].sort((a, b) => a.at - b.at);
    const start = ordered[0].at;
    for (const step of ordered) step.offsetMs = step.at - start;
    return { id, title: ordered[0].text, startedAt: start, steps: ordered, spanMs: ordered[ordered.length - 1].at - start };
  });
  return grouped.sort((a, b) => a.startedAt - b.startedAt);
}

/** The latest step of any chain (build output lines aside): what the suite does now. */
export function latestStep(events: CraneEvent[]): Step | null {
  const last = [...events].reverse().find((e) => e.type !== "build.progress");
  return last ? stepOf(last) : null;
}

/** The parts the latest step passed through: what the diagram lights up now. */
export function litParts(events: CraneEvent[]): Set<Part> {
  const latest = latestStep(events);
  return new Set(latest ? [...latest.parts, "nats"] : []);
}

export function formatOffset(ms: number): string {
  return ms < 1000 ? `+${ms} ms` : `+${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}
