import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { useNavigate, useParams } from "react-router-dom";
import { call, session, type App } from "../api";
import { follow } from "../sse";
import { Decisions } from "./Decisions";

type Line = { replica: string; service: string; line: string };
type CraneEvent = { id: string | null; type: string; source: string; time: string; subject: string | null };

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
      <div className="actions">
        <button onClick={() => act.mutate(["POST", "/start"])}>Start</button>
        <button onClick={() => act.mutate(["POST", "/stop"])}>Stop</button>
        <button onClick={() => act.mutate(["POST", "/restart"])}>Restart</button>
        <a className="button" href={`/api/v1/apps/${a.id}/compose`} onClick={(e) => { e.preventDefault(); void download(a.id); }}>Export compose</a>
        <button className="danger" onClick={() => {
          if (window.confirm(`Delete ${a.id} and its data?`)) act.mutate(["DELETE", ""], { onSuccess: () => navigate("/") });
        }}>Delete</button>
      </div>
      {act.isError && <p role="alert" className="error">{act.error.message}</p>}
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
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <div className="columns">
        <Logs appId={a.id} />
        <Timeline appId={a.id} />
      </div>
      <Decisions appId={a.id} />
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

function useStream<T>(path: string, parse: (id: string | null, event: string, data: string) => T | null, keep = 500): T[] {
  const [items, setItems] = useState<T[]>([]);
  useEffect(() => {
    setItems([]);
    const stop = new AbortController();
    follow(path, session.token(), (m) => {
      const item = parse(m.id, m.event, m.data);
      if (item !== null) setItems((current) => [...current, item].slice(-keep));
    }, stop.signal).catch(() => undefined);
    return () => stop.abort();
  }, [path]); // eslint-disable-line react-hooks/exhaustive-deps
  return items;
}

function Logs({ appId }: { appId: string }) {
  const lines = useStream<Line>(`/apps/${appId}/logs?follow=true&tail=50`, (_id, event, data) => (event === "line" ? JSON.parse(data) : null));
  return (
    <section aria-label="Logs">
      <h2>Logs</h2>
      <pre className="logs" aria-live="off">
        {lines.map((l, i) => `${l.replica} | ${l.line}`).join("\n")}
      </pre>
    </section>
  );
}

function Timeline({ appId }: { appId: string }) {
  const events = useStream<CraneEvent>(`/events?app=${appId}&since=3600`, (id, _event, data) => ({ ...JSON.parse(data), id }));
  return (
    <section aria-label="Events">
      <h2>What CRANE did</h2>
      <ol className="timeline">
        {events.map((e) => (
          <li key={e.id ?? e.time}>
            <time>{e.time.slice(11, 19)}</time> <strong>{e.type}</strong> <span className="source">by {e.source.replace("crane/", "")}</span>
          </li>
        ))}
      </ol>
    </section>
  );
}
