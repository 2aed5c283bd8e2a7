import { useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useNavigate } from "react-router-dom";
import { ApiError, call, type App } from "../api";
import type { ProjectFile } from "../upload/project";

function fromFolder(chosen: File[]): { folder: string; files: ProjectFile[] } {
  return {
    folder: chosen[0].webkitRelativePath.split("/")[0] || "app",
    files: chosen.map((file) => ({
      path: file.webkitRelativePath.split("/").slice(1).join("/") || file.name,
      read: async () => new Uint8Array(await file.arrayBuffer()),
    })),
  };
}

async function fromZip(zip: File): Promise<{ folder: string; files: ProjectFile[] }> {
  const { zipProject } = await import("../upload/zip");
  return zipProject(new Uint8Array(await zip.arrayBuffer()), zip.name);
}

/** Deploy a project folder (compose file, Dockerfiles, secrets), as `crane up` would. */
export function UploadStack() {
  const navigate = useNavigate();
  const client = useQueryClient();
  const [notes, setNotes] = useState<string[]>([]);
  const [errors, setErrors] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);

  async function submit(event: React.FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const elements = event.currentTarget.elements;
    const chosen = [...((elements.namedItem("folder") as HTMLInputElement).files ?? [])];
    const zip = (elements.namedItem("zip") as HTMLInputElement).files?.[0];
    if (!chosen.length && !zip) return setErrors(["choose the project's folder, or a .zip of it, first"]);
    setBusy(true);
    setErrors([]);
    try {
      const { readProject } = await import("../upload/project"); // (YAML and tar: loaded when used)
      const { folder, files } = zip ? await fromZip(zip) : fromFolder(chosen);
      const project = await readProject(files, folder);
      setNotes([...project.parts.map((p) => p.note), ...project.warnings]);
      const form = new FormData();
      project.parts.forEach((p) => form.append(p.name, p.data, p.filename));
      const app = await call<App>("POST", `/apps?name=${encodeURIComponent(project.name)}`, form);
      await client.invalidateQueries({ queryKey: ["apps"] });
      navigate(`/apps/${app.id}`);
    } catch (error) {
      setErrors(error instanceof ApiError && error.problems.length ? error.problems.map((p) => (p.field ? `${p.field}: ${p.message}` : p.message)) : [String(error instanceof Error ? error.message : error)]);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section>
      <h2>Deploy a project folder or zip</h2>
      <form onSubmit={submit} aria-label="Deploy a project folder">
        <div className="field">
          <label htmlFor="field-folder">Folder with a compose.yaml</label>
          <input id="field-folder" name="folder" type="file" {...{ webkitdirectory: "", directory: "" }} />
          <small className="hint">Build contexts (with .dockerignore), secrets, env files and .env go up with it, as with <code>crane up</code>.</small>
        </div>
        <div className="field">
          <label htmlFor="field-zip">Or the project as a .zip</label>
          <input id="field-zip" name="zip" type="file" accept=".zip,application/zip" />
        </div>
        <button type="submit" disabled={busy}>{busy ? "Uploading…" : "Deploy"}</button>
      </form>
      {notes.length > 0 && <ul className="hint">{notes.map((n) => <li key={n}>{n}</li>)}</ul>}
      {errors.map((e) => <p key={e} role="alert" className="error">{e}</p>)}
    </section>
  );
}
