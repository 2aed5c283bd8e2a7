// A tar.gz of files, as CRANE takes build contexts: ustar entries in the order given, no
// timestamps or owners (the same files make the same archive), gzip by the browser itself.

export type Entry = { path: string; data: Uint8Array; mode?: number };

const encoder = new TextEncoder();

function field(header: Uint8Array, offset: number, length: number, value: string) {
  header.set(encoder.encode(value).slice(0, length), offset);
}

function octal(value: number, length: number): string {
  return value.toString(8).padStart(length - 1, "0") + "\0";
}

/** A ustar header; names over 100 bytes are split at a slash into prefix and name. */
export function header(path: string, size: number, mode = 0o644): Uint8Array {
  let name = path;
  let prefix = "";
  if (encoder.encode(name).length > 100) {
    const cut = path.lastIndexOf("/", 155);
    if (cut <= 0 || encoder.encode(path.slice(cut + 1)).length > 100) throw new Error(`${path}: the path is too long for a tar entry`);
    prefix = path.slice(0, cut);
    name = path.slice(cut + 1);
  }
  const h = new Uint8Array(512);
  field(h, 0, 100, name);
  field(h, 100, 8, octal(mode, 8));
  field(h, 108, 8, octal(0, 8));
  field(h, 116, 8, octal(0, 8));
  field(h, 124, 12, octal(size, 12));
  field(h, 136, 12, octal(0, 12));
  field(h, 148, 8, "        ");
  field(h, 156, 1, "0");
  field(h, 257, 6, "ustar\0");
  field(h, 263, 2, "00");
  field(h, 345, 155, prefix);
  const sum = h.reduce((total, byte) => total + byte, 0);
  field(h, 148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  return h;
}

export function tar(entries: Entry[]): Uint8Array {
  const chunks: Uint8Array[] = [];
  for (const entry of entries) {
    chunks.push(header(entry.path, entry.data.length, entry.mode), entry.data);
    const padding = (512 - (entry.data.length % 512)) % 512;
    if (padding) chunks.push(new Uint8Array(padding));
  }
  chunks.push(new Uint8Array(1024));
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of chunks) { out.set(chunk, at); at += chunk.length; }
  return out;
}

export async function gzip(data: Uint8Array): Promise<Blob> {
  const stream = new Response(data as BodyInit).body!.pipeThrough(new CompressionStream("gzip"));
  return new Response(stream).blob();
}
