import { gunzipSync } from "node:zlib";
import { DockerIgnore } from "./dockerignore";
import { interpolate, readProject, type ProjectFile } from "./project";

const text = (s: string) => new TextEncoder().encode(s);
const file = (path: string, content: string): ProjectFile => ({ path, read: async () => text(content) });

/** The names in a tar archive (ustar: name at 0, prefix at 345, size at 124). */
function names(archive: Uint8Array): string[] {
  const out: string[] = [];
  const decode = (from: number, to: number) => new TextDecoder().decode(archive.slice(from, to)).replace(/\0.*$/s, "");
  for (let at = 0; at + 512 <= archive.length; ) {
    const name = decode(at, at + 100);
    if (!name) break;
    const prefix = decode(at + 345, at + 500);
    out.push(prefix ? `${prefix}/${name}` : name);
    const size = parseInt(decode(at + 124, at + 136), 8);
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

test(".dockerignore reads as Docker reads it", () => {
  const ignore = new DockerIgnore("node_modules\n*.log\n!keep.log\n**/secret.txt\n");
  expect(ignore.ignores("node_modules/a/b.js")).toBe(true);
  expect(ignore.ignores("debug.log")).toBe(true);
  expect(ignore.ignores("keep.log")).toBe(false);
  expect(ignore.ignores("logs/x.log")).toBe(false);
  expect(ignore.ignores("deep/er/secret.txt")).toBe(true);
});

test("a folder becomes the upload: compose, contexts without what .dockerignore leaves out, secrets, env files, .env", async () => {
  const project = await readProject([
    file("compose.yaml", "services:\n  web:\n    build: ${WEB_DIR}\n    env_file: [conf/web.env]\n    volumes: ['./static:/srv']\nsecrets:\n  pw:\n    file: ./pw.txt\n"),
    file(".env", "WEB_DIR=./web\n"),
    file("web/Dockerfile", "FROM x\n"),
    file("web/.dockerignore", "private.key\n"),
    file("web/index.html", "hi"),
    file("web/private.key", "never"),
    file("conf/web.env", "A=1\n"),
    file("pw.txt", "s3cret"),
    file("static/a.css", "x"),
  ], "My Shop");
  expect(project.name).toBe("myshop");
  expect(project.parts.map((p) => p.name).sort()).toEqual(
    ["bind.static", "build.web", "compose", "env_file..env", "env_file.conf/web.env", "secret.pw"].sort(),
  );
  const context = project.parts.find((p) => p.name === "build.web")!;
  const archive = gunzipSync(new Uint8Array(await context.data.arrayBuffer()));
  expect(names(new Uint8Array(archive))).toEqual([".dockerignore", "Dockerfile", "index.html"]);
  expect(await project.parts.find((p) => p.name === "secret.pw")!.data.text()).toBe("s3cret");
});

test("a missing file names its field, and a context outside the folder is refused", async () => {
  await expect(readProject([file("compose.yaml", "services:\n  web:\n    image: x\n    env_file: gone.env\n")], "p")).rejects.toThrow("services.web.env_file: gone.env");
  await expect(readProject([file("compose.yaml", "services:\n  web:\n    build: ../elsewhere\n")], "p")).rejects.toThrow("outside the folder");
  await expect(readProject([file("README.md", "")], "p")).rejects.toThrow("no compose file");
});

test("${VAR} comes from .env with Compose's defaults", () => {
  expect(interpolate("${A}-${B:-d}-${C-e}-$A-$$A", { A: "1", C: "" })).toBe("1-d--1-$A");
});
