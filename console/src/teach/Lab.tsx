import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { ApiError, call, type App } from "../api";
import { Field } from "../Field";

export type LoadStatus = {
  run_id: string;
  rate: number;
  seconds: number;
  path: string;
  running: boolean;
  stopped: boolean;
  sent: number;
  ok: number;
  failed: number;
  p95_ms: number | null;
};

/** Lab controls: a bounded load on the app's own route (sent by the suite, not the browser),
 *  and killing one replica as a crash would. */
export function Lab({ app }: { app: App }) {
  const client = useQueryClient();
  const [rate, setRate] = useState("20");
  const [seconds, setSeconds] = useState("60");
  const [path, setPath] = useState("/");
  const status = useQuery({
    queryKey: ["load", app.id],
    queryFn: () => call<LoadStatus | null>("GET", `/apps/${app.id}/lab/load`),
    refetchInterval: 1000,
  });
  const load = useMutation({
    mutationFn: (body: unknown) => call<LoadStatus>("POST", `/apps/${app.id}/lab/load`, body),
    onSuccess: () => client.invalidateQueries({ queryKey: ["load", app.id] }),
  });
  const stop = useMutation({
    mutationFn: () => call<LoadStatus>("DELETE", `/apps/${app.id}/lab/load`),
    onSuccess: () => client.invalidateQueries({ queryKey: ["load", app.id] }),
  });
  const kill = useMutation({
    mutationFn: (body: { service: string; replica: number }) => call("POST", `/apps/${app.id}/lab/kill`, body),
  });
  const problems = load.error instanceof ApiError ? load.error.problems : [];
  const run = status.data;

  function start(event: FormEvent) {
    event.preventDefault();
    load.mutate({ rate: Number(rate), seconds: Number(seconds), path });
  }

  return (
    <section aria-label="Lab" className="lab">
      <h2>Lab</h2>
      <form onSubmit={start} className="inline-form">
        <Field label="Requests per second" name="rate" problems={problems} hint="up to 200, sent by the suite to this app's own URL"
          type="number" min="0.1" max="200" step="any" value={rate} onChange={(e) => setRate(e.target.value)} />
        <Field label="For (seconds)" name="seconds" problems={problems} hint="up to 300"
          type="number" min="1" max="300" value={seconds} onChange={(e) => setSeconds(e.target.value)} />
        <Field label="Path" name="path" problems={problems} hint="on the app's own host"
          value={path} onChange={(e) => setPath(e.target.value)} />
        <button type="submit" disabled={load.isPending || run?.running}>Start load</button>
        <button type="button" disabled={!run?.running} onClick={() => stop.mutate()}>Stop load</button>
      </form>
      {load.isError && problems.length === 0 && <p role="alert" className="error">{load.error.message}</p>}
      {run && (
        <p className="load-status" aria-live="polite">
          {run.running ? "Sending" : run.stopped ? "Stopped" : "Done"}: {run.sent} sent at {run.rate}/s, {run.ok} answered,{" "}
          {run.failed} failed{run.p95_ms !== null && `, p95 ${run.p95_ms.toFixed(0)} ms`}
        </p>
      )}
      <h3>Break something</h3>
      <ul className="replicas">
        {app.services.map((service) =>
          Array.from({ length: service.desired_replicas }, (_, replica) => (
            <li key={`${service.name}-${replica}`}>
              <button
                className="danger"
                disabled={["stopped", "deleting"].includes(app.status) || kill.isPending}
                onClick={() => kill.mutate({ service: service.name, replica })}
              >
                Kill replica {replica} of {service.name}
              </button>
            </li>
          )),
        )}
      </ul>
      {kill.isError && <p role="alert" className="error">{kill.error.message}</p>}
    </section>
  );
}
