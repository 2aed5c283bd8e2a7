// .dockerignore as Docker reads it (the same rules as the crane CLI's): Go path patterns plus
// "**", "!" re-including, the last matching pattern deciding, a folder pattern covering its files.

type Pattern = { regex: RegExp; exclusion: boolean };

function toRegex(pattern: string): RegExp {
  let out = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (pattern.startsWith("**/", i)) { out += "(?:.*/)?"; i += 2; }
    else if (pattern.startsWith("**", i)) { out += ".*"; i += 1; }
    else if (c === "*") out += "[^/]*";
    else if (c === "?") out += "[^/]";
    else if (c === "[") {
      const end = pattern.indexOf("]", i + 1);
      if (end < 0) out += "\\[";
      else {
        let body = pattern.slice(i + 1, end);
        if (body.startsWith("!") || body.startsWith("^")) body = "^" + body.slice(1);
        out += `[${body.replace(/\\/g, "\\\\")}]`;
        i = end;
      }
    } else out += c.replace(/[.+^${}()|\\/]/g, "\\$&");
  }
  return new RegExp(`^${out}$`);
}

function clean(path: string): string {
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return parts.join("/");
}

export class DockerIgnore {
  private patterns: Pattern[] = [];

  constructor(text = "") {
    for (const raw of text.split(/\r?\n/)) {
      let line = raw.trim();
      if (!line || line.startsWith("#")) continue;
      const exclusion = line.startsWith("!");
      line = clean(line.replace(/^!/, "").trim());
      if (line) this.patterns.push({ regex: toRegex(line), exclusion });
    }
  }

  ignores(path: string): boolean {
    const parts = path.split("/");
    const parents = parts.map((_, i) => parts.slice(0, i + 1).join("/"));
    let ignored = false;
    for (const pattern of this.patterns) {
      if (parents.some((p) => pattern.regex.test(p))) ignored = !pattern.exclusion;
    }
    return ignored;
  }
}
