import { useQuery } from "@tanstack/react-query";
import { Link, useParams } from "react-router-dom";
import { call, type App } from "../api";
import { latestStep, litParts } from "../teach/chains";
import { Diagram } from "../teach/Diagram";
import { Lab } from "../teach/Lab";
import { ChainTimeline } from "../teach/Timeline";
import { useAppEvents } from "../useStream";
import { Decisions } from "./Decisions";

/** Watch the cloud think: the suite lighting up as each step happens, the steps grouped by the
 *  chain they belong to, and the lab controls that start the lessons. */
export function Watch() {
  const { appId = "" } = useParams();
  const app = useQuery({ queryKey: ["app", appId], queryFn: () => call<App>("GET", `/apps/${appId}`), refetchInterval: 1000 });
  const events = useAppEvents(appId);
  if (app.isError) return <main><p role="alert" className="error">{String(app.error.message)}</p></main>;
  if (!app.data) return <main><p>Loading {appId}…</p></main>;
  const a = app.data;
  const latest = latestStep(events);
  const replicas = a.services.map((s) => `${s.name} ${s.running_replicas}/${s.desired_replicas}`).join(", ");
  return (
    <main className="watch">
      <h1>
        Watch {a.id} think <span className={`status ${a.status}`}>{a.status}</span>
      </h1>
      <p>
        <Link to={`/apps/${a.id}`}>Back to the app</Link> · Replicas (ready/desired): <strong data-testid="replicas">{replicas}</strong>
      </p>
      <Diagram lit={litParts(events)} replicas={replicas} caption={latest ? `${latest.by}: ${latest.text}` : "Waiting for the next step…"} />
      <div className="columns">
        <Lab app={a} />
        <Decisions appId={a.id} />
      </div>
      <ChainTimeline events={events} />
    </main>
  );
}
