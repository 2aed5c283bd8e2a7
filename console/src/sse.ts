// Server-Sent Events read from a fetch() body (EventSource cannot send the Authorization header).

export type SseMessage = { id: string | null; event: string; data: string };

/** Cuts a stream of text chunks into messages; a message may arrive in pieces. */
export class SseParser {
  private buffer = "";
  private fields: Record<string, string> = {};

  feed(chunk: string): SseMessage[] {
    this.buffer += chunk;
    const lines = this.buffer.split(/\r?\n/);
    this.buffer = lines.pop() ?? "";
    const out: SseMessage[] = [];
    for (const line of lines) {
      if (line === "") {
        if ("data" in this.fields) {
          out.push({ id: this.fields.id ?? null, event: this.fields.event ?? "message", data: this.fields.data });
        }
        this.fields = {};
      } else if (!line.startsWith(":")) {
        const at = line.indexOf(":");
        const key = at < 0 ? line : line.slice(0, at);
        const value = at < 0 ? "" : line.slice(at + 1).replace(/^ /, "");
        this.fields[key] = key === "data" && key in this.fields ? `${this.fields[key]}\n${value}` : value;
      }
    }
    return out;
  }
}

/** Follow `path` until `signal` aborts, handing each message to `onMessage`. */
export async function follow(
  path: string,
  token: string | null,
  onMessage: (message: SseMessage) => void,
  signal: AbortSignal,
): Promise<void> {
  const response = await fetch(`/api/v1${path}`, {
    headers: token ? { Authorization: `Bearer ${token}` } : {},
    signal,
  });
  if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  const parser = new SseParser();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    parser.feed(value).forEach(onMessage);
  }
}

/** Follow `first`, and whenever the stream breaks (an API restart, the machine's network
 * changing) follow `resume(lastId)` a second later, until `signal` aborts. */
export async function followAgain(
  first: string,
  resume: (lastId: string | null) => string,
  token: () => string | null,
  onMessage: (message: SseMessage) => void,
  signal: AbortSignal,
): Promise<void> {
  let path = first;
  let lastId: string | null = null;
  while (!signal.aborted) {
    try {
      await follow(path, token(), (m) => {
        if (m.id) lastId = m.id;
        onMessage(m);
      }, signal);
    } catch {
      // broken or refused: try again below
    }
    if (signal.aborted) return;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    path = resume(lastId);
  }
}
