import { useQuery } from "@tanstack/react-query";
import { call } from "../api";

export type Decision = {
  service: string | null;
  alert: string;
  action: "scale_up" | "scale_down" | "restart" | "none";
  reason: string;
  current_replicas: number;
  desired_replicas: number;
  outcome: "applied" | "skipped";
};
type Alert = { alertname: string; service?: string | null; app_id?: string | null; annotations?: Record<string, string> };

const ACTIONS: Record<Decision["action"], string> = {
  scale_up: "Scale up",
  scale_down: "Scale down",
  restart: "Restart",
  none: "No change",
};

/** One decision in words: what, from how many to how many, and the policy's own arithmetic. */
export function explain(d: Decision): string {
  const target = d.service ? ` ${d.service}` : "";
  const change = d.action === "none" ? `stays at ${d.current_replicas}` : `${d.current_replicas} → ${d.desired_replicas}`;
  return `${ACTIONS[d.action]}${target}: ${change}, because ${d.reason}${d.outcome === "skipped" ? " (not applied)" : ""}`;
}

export function Decisions({ appId }: { appId: string }) {
  const decisions = useQuery({
    queryKey: ["decisions", appId],
    queryFn: () => call<Decision[]>("GET", `/apps/${appId}/decisions`),
    refetchInterval: 3000,
  });
  const alerts = useQuery({ queryKey: ["alerts"], queryFn: () => call<Alert[]>("GET", "/alerts"), refetchInterval: 3000 });
  const firing = (alerts.data ?? []).filter((a) => a.app_id === appId);
  return (
    <section aria-label="Decisions">
      <h2>Alerts and decisions</h2>
      {firing.length === 0 ? <p className="hint">No alert is firing.</p> : (
        <ul className="alerts">
          {firing.map((a) => (
            <li key={`${a.alertname}-${a.service ?? ""}`}><strong>{a.alertname}</strong>{a.service && ` on ${a.service}`}{a.annotations?.summary && `: ${a.annotations.summary}`}</li>
          ))}
        </ul>
      )}
      {decisions.data && decisions.data.length > 0 ? (
        <><p className="hint">Newest first.</p><ol className="decisions">
          {[...decisions.data].reverse().map((d, i) => (
            <li key={i}><span className={`action ${d.action}`}>{d.alert}</span> {explain(d)}</li>
          ))}
        </ol></>
      ) : (
        <p className="hint">No decision yet: the policy decides when an alert fires.</p>
      )}
    </section>
  );
}
