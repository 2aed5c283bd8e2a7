import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { ApiError, call } from "../api";
import { Field } from "../Field";

type Quota = { replicas: number; cpus: number; memory_mb: number };
type User = { email: string; full_name: string; role: string; quota: Quota | null };
const PACKAGES = ["autoscale", "admission", "scan"];
// What the autoscale policy is given when an alert fires (the others take an app spec or a scan).
const SAMPLE_INPUT = {
  alert: "CraneHighLoad", metric: "rps", value: 30, target: 10, tolerance: 0.1, current: 2, min: 1, max: 10,
  since_last_scale_up: null, scale_up_cooldown: 3, recent_recommendations: [],
};

/** The line a compiler message points at ("x.rego:3:5", "line 3", "3:5 ..."), if it says one. */
export function errorLine(message: string): number | null {
  const found = message.match(/(?:line\s+|:|\b)(\d+):\d+|line\s+(\d+)/i);
  const line = found ? Number(found[1] ?? found[2]) : NaN;
  return Number.isFinite(line) && line > 0 ? line : null;
}

export function Users() {
  const client = useQueryClient();
  const users = useQuery({ queryKey: ["users"], queryFn: () => call<User[]>("GET", "/users") });
  const act = useMutation({
    mutationFn: ([method, path, body]: [string, string, unknown?]) => call(method, `/users/${encodeURIComponent(path)}`, body),
    onSuccess: () => client.invalidateQueries({ queryKey: ["users"] }),
  });
  return (
    <main>
      <h1>Users</h1>
      {act.isError && <p role="alert" className="error">{act.error.message}</p>}
      <table>
        <thead><tr><th>Email</th><th>Name</th><th>Role</th><th>Quota</th><th>Actions</th></tr></thead>
        <tbody>
          {(users.data ?? []).map((u) => (
            <tr key={u.email}>
              <td>{u.email}</td>
              <td>{u.full_name}</td>
              <td>{u.role}</td>
              <td><QuotaCell user={u} /></td>
              <td><div className="actions">
                <button onClick={() => act.mutate(["PATCH", u.email, { role: u.role === "admin" ? "user" : "admin" }])}>
                  {u.role === "admin" ? "Make user" : "Make admin"}
                </button>
                <button onClick={() => act.mutate(["POST", `${u.email}/revoke-tokens`])}>Revoke tokens</button>
                <button className="danger" onClick={() => {
                  if (window.confirm(`Delete ${u.email} and their apps?`)) act.mutate(["DELETE", u.email]);
                }}>Delete</button>
              </div></td>
            </tr>
          ))}
        </tbody>
      </table>
    </main>
  );
}

/** A user's quota (or the admission policy's default), editable in place. */
function QuotaCell({ user }: { user: User }) {
  const client = useQueryClient();
  const [editing, setEditing] = useState(false);
  const start = user.quota ?? { replicas: 20, cpus: 8, memory_mb: 8192 }; // the shipped admission policy's default
  const [quota, setQuota] = useState({ replicas: String(start.replicas), cpus: String(start.cpus), memory_mb: String(start.memory_mb) });
  const save = useMutation({
    mutationFn: (body: { quota: Quota | null }) => call("PATCH", `/users/${encodeURIComponent(user.email)}`, body),
    onSuccess: () => { setEditing(false); void client.invalidateQueries({ queryKey: ["users"] }); },
  });
  const problems = save.error instanceof ApiError ? save.error.problems : [];
  if (!editing) {
    const q = user.quota;
    return (
      <>
        {q ? `${q.replicas} replicas, ${q.cpus} CPUs, ${q.memory_mb} MB` : <span className="hint">the policy's default</span>}{" "}
        <button className="link" aria-label={`Edit quota of ${user.email}`} onClick={() => setEditing(true)}>Edit</button>
      </>
    );
  }
  const number = (key: keyof typeof quota, label: string, step: string) => (
    <Field label={label} name={key} problems={problems} type="number" min="0" step={step}
      value={quota[key]} onChange={(e) => setQuota({ ...quota, [key]: e.target.value })} />
  );
  return (
    <form className="inline-form quota" aria-label={`Quota of ${user.email}`} onSubmit={(e) => {
      e.preventDefault();
      save.mutate({ quota: { replicas: Number(quota.replicas), cpus: Number(quota.cpus), memory_mb: Number(quota.memory_mb) } });
    }}>
      {number("replicas", "Replicas", "1")}
      {number("cpus", "CPUs", "0.1")}
      {number("memory_mb", "Memory (MB)", "1")}
      <button type="submit">Save quota</button>
      <button type="button" className="link" onClick={() => save.mutate({ quota: null })}>Use the default</button>
      <button type="button" className="link" onClick={() => setEditing(false)}>Cancel</button>
      {save.isError && problems.length === 0 && <p role="alert" className="error">{save.error.message}</p>}
    </form>
  );
}

export function Policies() {
  const names = useQuery({ queryKey: ["policies"], queryFn: () => call<string[]>("GET", "/policies") });
  const [name, setName] = useState<string | null>(null);
  return (
    <main>
      <h1>Policies</h1>
      <p className="hint">Rego modules the policy service runs: admission, scan, autoscale. A change is compiled before it is kept.</p>
      <nav aria-label="Policies" className="actions">
        {(names.data ?? []).map((n) => (
          <button key={n} aria-pressed={n === name} onClick={() => setName(n)}>{n}</button>
        ))}
      </nav>
      {name && <PolicyEditor key={name} name={name} />}
    </main>
  );
}

function PolicyEditor({ name }: { name: string }) {
  const policy = useQuery({ queryKey: ["policy", name], queryFn: () => call<{ source: string }>("GET", `/policies/${name}`) });
  const [source, setSource] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const text = source ?? policy.data?.source ?? "";
  const save = useMutation({
    mutationFn: () => call("PUT", `/policies/${name}`, { source: text }),
    onSuccess: () => { setProblem(null); setSaved(true); },
    onError: (error) => { setSaved(false); setProblem(error instanceof ApiError ? error.message.replace(/^source: /, "") : String(error)); },
  });
  const restore = useMutation({
    mutationFn: () => call<{ source: string }>("POST", `/policies/${name}/restore`),
    onSuccess: (restored) => { setSource(restored.source); setProblem(null); setSaved(true); },
    onError: (error) => { setSaved(false); setProblem(String(error instanceof Error ? error.message : error)); },
  });
  const line = problem ? errorLine(problem) : null;
  return (
    <section aria-label={`Policy ${name}`}>
      <h2>{name}</h2>
      <div className="editor">
        <pre className="gutter" aria-hidden="true">
          {text.split("\n").map((_, i) => <span key={i} className={i + 1 === line ? "bad-line" : undefined}>{i + 1}{"\n"}</span>)}
        </pre>
        <textarea aria-label={`Source of ${name}`} value={text} spellCheck={false} rows={Math.min(30, text.split("\n").length + 2)}
          aria-invalid={problem ? true : undefined} aria-describedby={problem ? "policy-error" : undefined}
          onChange={(e) => { setSource(e.target.value); setSaved(false); }} />
      </div>
      {problem && <p id="policy-error" role="alert" className="error">{line ? `Line ${line}: ` : ""}{problem}</p>}
      {saved && <p role="status">Saved: the policy service uses it from now on.</p>}
      <div className="actions">
        <button onClick={() => save.mutate()} disabled={save.isPending}>Compile and save</button>
        <button className="danger" disabled={restore.isPending} onClick={() => {
          if (window.confirm(`Put back the ${name} policy CRANE ships? Your changes to it are lost.`)) restore.mutate();
        }}>Restore the shipped policy</button>
      </div>
      {PACKAGES.includes(name) && <DryRun name={name} source={text} />}
    </section>
  );
}

/** Evaluate the policy as it stands in the editor (not saved) against an input. */
function DryRun({ name, source }: { name: string; source: string }) {
  const [input, setInput] = useState(JSON.stringify(name === "autoscale" ? SAMPLE_INPUT : {}, null, 2));
  const [result, setResult] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  async function run() {
    setResult(null);
    setProblem(null);
    let parsed: unknown;
    try {
      parsed = JSON.parse(input);
    } catch (error) {
      return setProblem(`the input is not JSON: ${(error as Error).message}`);
    }
    try {
      const answer = await call<{ decision: unknown }>("POST", "/policies/dry-run", { name, package: name, source, input: parsed });
      setResult(JSON.stringify(answer.decision, null, 2));
    } catch (error) {
      setProblem(error instanceof ApiError ? error.message.replace(/^(source|input): /, "") : String(error));
    }
  }
  return (
    <div className="dry-run">
      <h3>Dry run</h3>
      <label htmlFor={`input-${name}`}>Input (JSON)</label>
      <textarea id={`input-${name}`} value={input} rows={8} spellCheck={false} onChange={(e) => setInput(e.target.value)} />
      <button onClick={run}>Evaluate</button>
      {problem && <p role="alert" className="error">{problem}</p>}
      {result && <pre aria-label="Decision" className="logs small">{result}</pre>}
    </div>
  );
}
