import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router-dom";
import { ApiError, call, type App, type FieldProblem } from "../api";
import { Field, SelectField } from "../Field";
import { UploadStack } from "./UploadStack";

export function Apps() {
  const apps = useQuery({ queryKey: ["apps"], queryFn: () => call<App[]>("GET", "/apps"), refetchInterval: 2000 });
  return (
    <main>
      <h1>Apps</h1>
      {apps.isError && <p role="alert" className="error">{String(apps.error)}</p>}
      {apps.data && apps.data.length === 0 && <p>No apps yet: create one below, or run <code>crane up</code> in a project folder.</p>}
      {apps.data && apps.data.length > 0 && (
        <table>
          <thead>
            <tr><th>App</th><th>Owner</th><th>Status</th><th>Replicas</th><th>URL</th></tr>
          </thead>
          <tbody>
            {apps.data.map((app) => (
              <tr key={app.id}>
                <td><Link to={`/apps/${app.id}`}>{app.id}</Link></td>
                <td>{app.owner}</td>
                <td><span className={`status ${app.status}`}>{app.status}</span></td>
                <td>{app.running_replicas}/{app.desired_replicas}</td>
                <td>{app.url && <a href={app.url}>{app.url}</a>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <CreateApp />
      <UploadStack />
    </main>
  );
}

function CreateApp() {
  const client = useQueryClient();
  const [problems, setProblems] = useState<FieldProblem[]>([]);
  const create = useMutation({
    mutationFn: (body: unknown) => call<App>("POST", "/apps", body),
    onSuccess: () => {
      setProblems([]);
      client.invalidateQueries({ queryKey: ["apps"] });
    },
    onError: (error) => setProblems(error instanceof ApiError ? error.problems.map(inWords) : []),
  });

  function submit(event: React.FormEvent<HTMLFormElement>) {
    event.preventDefault();
    create.mutate(appPayload(new FormData(event.currentTarget)));
  }

  return (
    <section>
      <h2>Create an app</h2>
      <form onSubmit={submit} aria-label="Create an app" className="grid">
        <Field label="Name" name="name" problems={problems} required hint="lowercase letters, digits and dashes" />
        <Field label="Image" name="image" problems={problems} required defaultValue="crane/hello:local" hint="an image the Docker Engine has or can pull" />
        <Field label="Port" name="port" problems={problems} defaultValue="8080" hint="the port the container listens on; Traefik routes to it" />
        <Field label="Replicas" name="replicas" type="number" min={0} max={20} defaultValue={2} problems={problems} hint="copies behind the load balancer" />
        <Field label="CPUs" name="cpus" type="number" step="0.1" min={0.1} problems={problems} hint="per replica, e.g. 0.5 (empty: the suite's default)" />
        <Field label="Memory" name="memory" problems={problems} hint="per replica, e.g. 128m (empty: the suite's default)" />
        <SelectField label="Autoscale on" name="metric" problems={problems} options={METRICS} hint="what adds or removes replicas; off: a fixed number" />
        <Field label="Target per replica" name="target" type="number" step="any" min={0} problems={problems} hint="e.g. 5 requests/s: more per replica adds replicas" />
        <Field label="Min replicas" name="min_scale" type="number" min={0} max={20} defaultValue={1} problems={problems} hint="autoscaling never goes below" />
        <Field label="Max replicas" name="max_scale" type="number" min={1} max={50} defaultValue={10} problems={problems} hint="autoscaling never goes above (the API's default: 10)" />
        {create.isError && !problems.length && <p role="alert" className="error">{String(create.error.message)}</p>}
        <button type="submit" disabled={create.isPending}>Create</button>
      </form>
    </section>
  );
}

const METRICS: [string, string][] = [
  ["", "off"],
  ["rps", "requests per second (rps)"],
  ["latency_p95", "p95 latency (latency_p95)"],
  ["cpu", "CPU (cpu)"],
  ["memory", "memory (memory)"],
];

/** The API's words for a name that does not fit, as a person would say them. */
export function inWords(problem: FieldProblem): FieldProblem {
  if (problem.field.endsWith("name") && problem.message.includes("should match pattern")) {
    return { ...problem, message: "lowercase letters, digits and dashes, beginning with a letter (e.g. shop or my-app-2)" };
  }
  return problem;
}

/** The App payload of the create form: one service, and autoscaling only when a metric is chosen. */
export function appPayload(form: FormData): Record<string, unknown> {
  const text = (name: string) => String(form.get(name) ?? "").trim();
  const port = text("port");
  const service: Record<string, unknown> = { name: "web", image: text("image"), ports: port ? [port] : [] };
  if (text("cpus") || text("memory")) {
    service.resources = { ...(text("cpus") && { cpus: Number(text("cpus")) }), ...(text("memory") && { memory: text("memory") }) };
  }
  const app: Record<string, unknown> = { name: text("name"), replicas: Number(text("replicas") || 1), services: [service] };
  if (text("metric")) {
    app.autoscaling = { metric: text("metric"), ...(text("target") && { target: Number(text("target")) }) };
    app.min_scale = Number(text("min_scale") || 1);
    app.max_scale = Number(text("max_scale") || 10);
  }
  return app;
}
