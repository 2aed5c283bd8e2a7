import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { call, session, type App } from "../api";
import { ChainTimeline } from "../teach/Timeline";
import { useAppEvents, useStream } from "../useStream";
import { Charts } from "./Charts";
import { Decisions } from "./Decisions";

type Line = { replica: string; service: string; line: string };

export function AppPage() {
  const { appId = "" } = useParams();
  const client = useQueryClient();
  const navigate = useNavigate();
  const app = useQuery({ queryKey: ["app", appId], queryFn: () => call<App>("GET", `/apps/${appId}`), refetchInterval: 1000 });
  const act = useMutation({
    mutationFn: ([method, path, body]: [string, string, unknown?]) => call<App>(method, `/apps/${appId}${path}`, body),
    onSuccess: () => client.invalidateQueries({ queryKey: ["app", appId] }),
  });

  if (app.isError) return <main><p role="alert" className="error">{String(app.error.message)}</p></main>;
  if (!app.data) return <main><p>Loading {appId}…</p></main>;
  const a = app.data;
  return (
    <main>
      <h1>{a.id} <span className={`status ${a.status}`}>{a.status}</span></h1>
      {a.reason && <p className="error">{a.reason}</p>}
      {a.url && <p>URL: <a href={a.url}>{a.url}</a></p>}
      <p><Link to={`/apps/${a.id}/watch`}>Watch it think: the suite, the causal chains and the lab</Link></p>
      <div className="actions">
        <button disabled={a.desired_state === "running"} onClick={() => act.mutate(["POST", "/start"])}>Start</button>
        <button disabled={a.desired_state === "stopped"} onClick={() => act.mutate(["POST", "/stop"])}>Stop</button>
        <button onClick={() => act.mutate(["POST", "/restart"])}>Restart</button>
        <button onClick={() => act.mutate(["POST", "/clone"], { onSuccess: (copy) => navigate(`/apps/${copy.id}`) })}>Clone</button>
        <a className="button" href={`/api/v1/apps/${a.id}/compose`} onClick={(e) => { e.preventDefault(); void download(a.id); }}>Export compose</a>
        <button className="danger" onClick={() => {
          if (window.confirm(`Delete ${a.id} and its data?`)) act.mutate(["DELETE", ""], { onSuccess: () => navigate("/") });
        }}>Delete</button>
      </div>
      {act.isError && (
        <p role="alert" className="error">
          {act.error.message}
          {act.error.message.includes("volume_scaling") &&
            " (it is set in the compose file: x-crane: {volume_scaling: per_replica} under the service; then crane up, or Deploy a project below the app list)"}
        </p>
      )}
      <table>
        <thead><tr><th>Service</th><th>Running</th><th>Desired</th><th>Scale</th></tr></thead>
        <tbody>
          {a.services.map((s) => (
            <tr key={s.name}>
              <td>{s.name}</td>
              <td>{s.running_replicas}</td>
              <td>{s.desired_replicas}</td>
              <td>
                <button aria-label={`fewer replicas of ${s.name}`} onClick={() => act.mutate(["POST", "/scale", { service: s.name, replicas: Math.max(0, s.desired_replicas - 1) }])}>−</button>
                <button aria-label={`more replicas of ${s.name}`} onClick={() => act.mutate(["POST", "/scale", { service: s.name, replicas: s.desired_replicas + 1 }])}>+</button>
                <form className="inline" aria-label={`replicas of ${s.name}`} onSubmit={(e) => {
                  e.preventDefault();
                  const replicas = Number(new FormData(e.currentTarget).get("replicas"));
                  act.mutate(["POST", "/scale", { service: s.name, replicas }]);
                }}>
                  <input name="replicas" type="number" min={0} max={50} defaultValue={s.desired_replicas} key={s.desired_replicas} aria-label={`replicas of ${s.name}`} />
                  <button type="submit">Set</button>
                </form>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <div className="columns">
        <Logs appId={a.id} services={a.services.map((s) => s.name)} />
        <AppEvents appId={a.id} />
      </div>
      <Charts appId={a.id} />
      <Decisions appId={a.id} />
      <div className="columns">
        <ScanReport appId={a.id} />
        <Builds appId={a.id} />
      </div>
    </main>
  );
}

async function download(appId: string) {
  const response = await fetch(`/api/v1/apps/${appId}/compose`, { headers: { Authorization: `Bearer ${session.token()}` } });
  const link = document.createElement("a");
  link.href = URL.createObjectURL(await response.blob());
  link.download = `${appId}-compose.yml`;
  link.click();
}

function Logs({ appId, services }: { appId: string; services: string[] }) {
  const [service, setService] = useState("");
  const [replica, setReplica] = useState("");
  const query = `/apps/${appId}/logs?follow=true&tail=50${service ? `&service=${encodeURIComponent(service)}` : ""}`;
  const lines = useStream<Line>(query, () => query.replace("tail=50", "tail=0"), (_id, event, data) => (event === "line" ? JSON.parse(data) : null));
  const replicas = [...new Set(lines.map((l) => l.replica))].sort();
  const shown = replica ? lines.filter((l) => l.replica === replica) : lines;
  return (
    <section aria-label="Logs">
      <h2>Logs</h2>
      <div className="filters">
        <label>Service <select value={service} onChange={(e) => { setService(e.target.value); setReplica(""); }}>
          <option value="">all</option>
          {services.map((s) => <option key={s}>{s}</option>)}
        </select></label>
        <label>Replica <select value={replica} onChange={(e) => setReplica(e.target.value)}>
          <option value="">all</option>
          {replicas.map((r) => <option key={r}>{r}</option>)}
        </select></label>
      </div>
      <pre className="logs" aria-live="off">
        {shown.map((l) => `${l.replica} | ${l.line}`).join("\n")}
      </pre>
    </section>
  );
}

type Finding = { id: string; severity: string; title: string; package?: string | null; target?: string };
type ImageScan = { image: string; allowed: boolean; reasons: string[]; counts: Record<string, Record<string, number>>; findings: Finding[]; limits?: string | null };
const SEVERITIES = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"];

function ScanReport({ appId }: { appId: string }) {
  const scan = useQuery({ queryKey: ["scan", appId], queryFn: () => call<{ status: string; images: ImageScan[] }>("GET", `/apps/${appId}/scan`), refetchInterval: 5000 });
  return (
    <section aria-label="Scan report">
      <h2>Image scan: {scan.data?.status ?? "…"}</h2>
      {(scan.data?.images ?? []).map((image) => (
        <div key={image.image} className="card">
          <p><strong>{image.image}</strong> {image.allowed ? "allowed" : <span className="error">blocked</span>}</p>
          {image.limits && <p className="hint">{image.limits}</p>}
          <table>
            <thead><tr><th>Kind</th>{SEVERITIES.map((s) => <th key={s}>{s.toLowerCase()}</th>)}</tr></thead>
            <tbody>
              {Object.entries(image.counts).map(([kind, levels]) => (
                <tr key={kind}><td>{kind}</td>{SEVERITIES.map((s) => <td key={s}>{levels[s] ?? 0}</td>)}</tr>
              ))}
            </tbody>
          </table>
          {image.reasons.map((r) => <p key={r} className="error">{r}</p>)}
          {image.findings.length > 0 && (
            <details><summary>{image.findings.length} findings</summary>
              <ul>{image.findings.slice(0, 50).map((f, i) => <li key={i}>{f.severity} {f.id} {f.package ?? f.target}: {f.title}</li>)}</ul>
            </details>
          )}
        </div>
      ))}
    </section>
  );
}

type Build = { id: string; service: string; status: string; error: string | null; seconds: number | null; log: string; started_at: string };

function Builds({ appId }: { appId: string }) {
  const builds = useQuery({ queryKey: ["builds", appId], queryFn: () => call<Build[]>("GET", `/apps/${appId}/builds`), refetchInterval: 5000 });
  return (
    <section aria-label="Builds">
      <h2>Builds</h2>
      {builds.data?.length === 0 && <p className="hint">Nothing built: every service runs an image.</p>}
      {(builds.data?.length ?? 0) > 0 && <ol className="decisions">
        {[...(builds.data ?? [])].reverse().map((b) => (
          <li key={b.id}>
            <strong>{b.service}</strong> {b.status}{b.seconds !== null && ` in ${b.seconds.toFixed(1)} s`} <time>{b.started_at.slice(0, 19).replace("T", " ")}</time>
            {b.error && <p className="error">{b.error}</p>}
            <details><summary>log</summary><pre className="logs small">{b.log}</pre></details>
          </li>
        ))}
      </ol>}
    </section>
  );
}

function AppEvents({ appId }: { appId: string }) {
  return <ChainTimeline events={useAppEvents(appId)} open={2} />;
}
