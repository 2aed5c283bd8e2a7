// A project folder chosen in the browser as CRANE's multipart upload: the compose file, each
// service's build context packed with .dockerignore honoured, secret and config files, env files,
// relative bind-mount folders and .env (which alone fills ${VAR}, as CRANE's Compose reads it).

import { parse } from "yaml";
import { DockerIgnore } from "./dockerignore";
import { gzip, tar, type Entry } from "./tar";

export type ProjectFile = { path: string; read: () => Promise<Uint8Array> };
export type Part = { name: string; filename: string; data: Blob; note: string };
export type Project = { name: string; parts: Part[]; warnings: string[] };

export const COMPOSE_NAMES = ["compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"];
const decoder = new TextDecoder();

export function cleanPath(path: string): string {
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") { if (!parts.length) return ".."; parts.pop(); }
    else parts.push(part);
  }
  return parts.join("/");
}

export function readDotenv(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith("#") || !line.includes("=")) continue;
    const [key, ...rest] = line.replace(/^export /, "").split("=");
    let value = rest.join("=").trim();
    if (value.length >= 2 && value[0] === value[value.length - 1] && `"'`.includes(value[0])) value = value.slice(1, -1);
    values[key.trim()] = value;
  }
  return values;
}

export function interpolate(text: string, values: Record<string, string>): string {
  return text
    .replace(/\$\$/g, "\0")
    .replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_m, braced, op, fallback, bare) => {
      const value = values[braced ?? bare];
      if ((op === ":-" && !value) || (op === "-" && value === undefined)) return fallback ?? "";
      return value ?? "";
    })
    .replace(/\0/g, "$");
}

export function appName(document: Record<string, unknown>, folder: string): string {
  if (typeof document.name === "string" && document.name) return document.name;
  return folder.toLowerCase().replace(/[^a-z0-9_-]/g, "").replace(/^[_-]+/, "") || "app";
}

export async function readProject(files: ProjectFile[], folder: string): Promise<Project> {
  const byPath = new Map(files.map((f) => [cleanPath(f.path), f]));
  const composeName = COMPOSE_NAMES.find((n) => byPath.has(n));
  if (!composeName) throw new Error(`the folder has no compose file (${COMPOSE_NAMES.join(", ")})`);
  const text = decoder.decode(await byPath.get(composeName)!.read());
  const dotenv = byPath.get(".env");
  const dotenvBytes = dotenv ? await dotenv.read() : null;
  const values = dotenvBytes ? readDotenv(decoder.decode(dotenvBytes)) : {};
  const document = (parse(text) ?? {}) as Record<string, unknown>;
  const project: Project = { name: appName(document, folder), parts: [], warnings: [] };
  const add = (name: string, filename: string, data: Blob, note: string) => project.parts.push({ name, filename, data, note });
  add("compose", composeName, new Blob([text]), "compose file");
  if (dotenvBytes) add("env_file..env", ".env", new Blob([dotenvBytes as BlobPart]), ".env");
  const local = (raw: string) => cleanPath(interpolate(raw, values));

  async function pack(root: string, dockerfile: string | null, honourIgnore: boolean): Promise<{ blob: Blob; count: number }> {
    const prefix = root ? `${root}/` : "";
    const ignoreFile = byPath.get(`${prefix}.dockerignore`);
    const ignore = new DockerIgnore(honourIgnore && ignoreFile ? decoder.decode(await ignoreFile.read()) : "");
    const always = new Set([".dockerignore", cleanPath(dockerfile ?? "Dockerfile")]);
    const entries: Entry[] = [];
    for (const [path, file] of [...byPath.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (!path.startsWith(prefix)) continue;
      const inside = path.slice(prefix.length);
      if (!always.has(inside) && ignore.ignores(inside)) continue;
      entries.push({ path: inside, data: await file.read() });
    }
    return { blob: await gzip(tar(entries)), count: entries.length };
  }

  const services = (document.services ?? {}) as Record<string, Record<string, unknown>>;
  const seen = new Set<string>();
  for (const [service, body] of Object.entries(services)) {
    if (!body || typeof body !== "object") continue;
    const build = body.build as string | { context?: string; dockerfile?: string } | undefined;
    if (build !== undefined) {
      const context = local(typeof build === "string" ? build : build.context ?? ".");
      if (context === ".." || context.startsWith("../")) throw new Error(`services.${service}.build.context: ${context} is outside the folder`);
      const { blob, count } = await pack(context, typeof build === "string" ? null : build.dockerfile ?? null, true);
      if (!count) throw new Error(`services.${service}.build.context: ${context || "."} holds no files`);
      add(`build.${service}`, `${service}.tar.gz`, blob, `build context of ${service}: ${count} files`);
    }
    const envFiles = typeof body.env_file === "string" || (body.env_file && !Array.isArray(body.env_file)) ? [body.env_file] : (body.env_file as unknown[]) ?? [];
    for (const entry of envFiles) {
      const raw = typeof entry === "string" ? entry : (entry as { path?: string }).path;
      const required = typeof entry === "string" || (entry as { required?: boolean }).required !== false;
      if (!raw || seen.has(`env:${raw}`)) continue;
      const file = byPath.get(local(raw));
      if (!file) { if (required) throw new Error(`services.${service}.env_file: ${raw} is not in the folder`); continue; }
      seen.add(`env:${raw}`);
      add(`env_file.${raw}`, raw.split("/").pop()!, new Blob([(await file.read()) as BlobPart]), `env file ${raw}`);
    }
    for (const volume of (body.volumes as unknown[]) ?? []) {
      const source = typeof volume === "string" ? (volume.includes(":") ? volume.split(":")[0] : "") : (volume as { type?: string; source?: string }).type === "bind" ? (volume as { source?: string }).source ?? "" : "";
      if (!(source.startsWith("./") || source.startsWith("../") || source === ".")) continue;
      const path = local(source);
      if (seen.has(`bind:${path}`)) continue;
      seen.add(`bind:${path}`);
      const { blob, count } = await pack(path, null, false);
      if (!count) { project.warnings.push(`services.${service}.volumes: ${source} is not a folder here; its volume starts empty`); continue; }
      add(`bind.${path}`, `${path.replace(/\//g, "_")}.tar.gz`, blob, `folder ${path}: ${count} files`);
    }
  }
  for (const kind of ["secrets", "configs"] as const) {
    for (const [key, entry] of Object.entries((document[kind] ?? {}) as Record<string, { file?: string }>)) {
      if (!entry || typeof entry.file !== "string") continue;
      const file = byPath.get(local(entry.file));
      if (!file) throw new Error(`${kind}.${key}.file: ${entry.file} is not in the folder`);
      add(`${kind.slice(0, -1)}.${key}`, entry.file.split("/").pop()!, new Blob([(await file.read()) as BlobPart]), `${kind.slice(0, -1)} ${key}`);
    }
  }
  return project;
}
