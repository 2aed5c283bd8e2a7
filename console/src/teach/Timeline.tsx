import { formatOffset, groupChains, type CraneEvent } from "./chains";

/** The app's events as causal chains: what began each, then every step it led to, by whom and
 *  how long after. The latest chain is open; older ones fold. */
export function ChainTimeline({ events, open = 3 }: { events: CraneEvent[]; open?: number }) {
  const chains = groupChains(events).reverse();
  return (
    <section aria-label="Events">
      <h2>What CRANE did, and why</h2>
      {chains.length === 0 && <p className="hint">No event yet.</p>}
      <ol className="chains">
        {chains.map((chain, index) => (
          <li key={chain.id}>
            <details open={index < open}>
              <summary>
                <time>{new Date(chain.startedAt).toLocaleTimeString()}</time> <strong>{chain.title}</strong>{" "}
                <span className="hint">
                  {chain.steps.length} step{chain.steps.length === 1 ? "" : "s"} in {formatOffset(chain.spanMs).slice(1)}
                </span>
              </summary>
              <ol className="timeline">
                {chain.steps.map((step) => (
                  <li key={step.event.id} data-type={step.event.type}>
                    <span className="offset">{formatOffset(step.offsetMs)}</span>{" "}
                    <span className={`by by-${step.by.split(" ")[0]}`}>{step.by}</span> {step.text}{" "}
                    <code className="type">{step.event.type}</code>
                  </li>
                ))}
              </ol>
            </details>
          </li>
        ))}
      </ol>
    </section>
  );
}
