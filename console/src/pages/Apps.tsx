import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router-dom";
import { ApiError, call, type App, type FieldProblem } from "../api";
import { Field } from "../Field";

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
    onError: (error) => setProblems(error instanceof ApiError ? error.problems : []),
  });

  function submit(event: React.FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const port = String(form.get("port") || "");
    create.mutate({
      name: String(form.get("name")),
      replicas: Number(form.get("replicas")),
      services: [{ name: "web", image: String(form.get("image")), ports: port ? [port] : [] }],
    });
  }

  return (
    <section>
      <h2>Create an app</h2>
      <form onSubmit={submit} aria-label="Create an app" className="grid">
        <Field label="Name" name="name" problems={problems} required hint="lowercase letters, digits and dashes" />
        <Field label="Image" name="image" problems={problems} required defaultValue="crane/hello:local" hint="an image the Docker Engine has or can pull" />
        <Field label="Port" name="port" problems={problems} defaultValue="8080" hint="the port the container listens on; Traefik routes to it" />
        <Field label="Replicas" name="replicas" type="number" min={0} max={20} defaultValue={2} problems={problems} hint="copies behind the load balancer" />
        {create.isError && !problems.length && <p role="alert" className="error">{String(create.error.message)}</p>}
        <button type="submit" disabled={create.isPending}>Create</button>
      </form>
    </section>
  );
}
