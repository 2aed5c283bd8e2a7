import { useEffect, useState } from "react";
import { session } from "./api";
import { followAgain } from "./sse";
import type { CraneEvent } from "./teach/chains";

/** A live stream's items (the last `keep`), followed again after a break from where it was. */
export function useStream<T>(
  path: string,
  resume: (lastId: string | null) => string,
  parse: (id: string | null, event: string, data: string) => T | null,
  keep = 500,
): T[] {
  const [items, setItems] = useState<T[]>([]);
  useEffect(() => {
    setItems([]);
    const stop = new AbortController();
    void followAgain(path, resume, session.token, (m) => {
      const item = parse(m.id, m.event, m.data);
      if (item !== null) setItems((current) => [...current, item].slice(-keep));
    }, stop.signal);
    return () => stop.abort();
  }, [path]); // eslint-disable-line react-hooks/exhaustive-deps
  return items;
}

/** An app's events of the last hour, then live. */
export function useAppEvents(appId: string): CraneEvent[] {
  return useStream<CraneEvent>(
    `/events?app=${appId}&since=3600`,
    (lastId) => (lastId ? `/events?app=${appId}&after=${lastId}` : `/events?app=${appId}&since=3600`),
    (seq, _event, data) => ({ ...JSON.parse(data), seq }),
    1000,
  );
}
