import { useQuery } from "@tanstack/react-query";
import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { call } from "../api";

const WINDOW_SECONDS = 600;

type Metrics = { service: string; step: number; series: Record<string, [number, number][]>; problem: string | null };

export const CHARTS: { metric: string; title: string; unit: string }[] = [
  { metric: "rps", title: "Requests per second, per replica", unit: "req/s" },
  { metric: "latency_p95", title: "Latency p95", unit: "s" },
  { metric: "cpu", title: "CPU, average replica", unit: "% of a core" },
  { metric: "memory", title: "Memory, average replica", unit: "% of its limit" },
];

/** uPlot's columns from [time, value] points. */
export function columns(points: [number, number][]): [number[], number[]] {
  return [points.map((p) => p[0]), points.map((p) => p[1])];
}

/** As wide as the chart's box allows (a phone's screen), at most 520 px. */
function chartWidth(box: HTMLElement): number {
  return Math.max(200, Math.min(520, Math.floor(box.getBoundingClientRect().width || 520)));
}

function Chart({ title, unit, points }: { title: string; unit: string; points: [number, number][] }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  useEffect(() => {
    if (!box.current) return;
    plot.current = new uPlot(
      {
        width: chartWidth(box.current),
        height: 160,
        // Always the last 10 minutes, however few points there are yet.
        scales: { x: { time: true, range: () => [Date.now() / 1000 - WINDOW_SECONDS, Date.now() / 1000] } },
        series: [{}, { label: unit, stroke: "#1d5fd1", width: 2 }],
        axes: [{}, { size: 60 }],
        legend: { show: false },
      },
      [[], []],
      box.current,
    );
    const resize = () => box.current && plot.current?.setSize({ width: chartWidth(box.current), height: 160 });
    window.addEventListener("resize", resize);
    return () => {
      window.removeEventListener("resize", resize);
      plot.current?.destroy();
    };
  }, [unit]);
  useEffect(() => plot.current?.setData(columns(points)), [points]);
  const last = points.length ? points[points.length - 1][1] : null;
  return (
    <figure className="chart">
      <figcaption>{title}: <strong>{last === null ? "no data yet" : `${Number(last.toFixed(3))} ${unit}`}</strong></figcaption>
      <div ref={box} role="img" aria-label={`${title} over the last 10 minutes`} />
    </figure>
  );
}

export function Charts({ appId }: { appId: string }) {
  const metrics = useQuery({
    queryKey: ["metrics", appId],
    queryFn: () => call<Metrics>("GET", `/apps/${appId}/metrics?minutes=${WINDOW_SECONDS / 60}`),
    refetchInterval: 5000,
  });
  return (
    <section aria-label="Metrics">
      <h2>Metrics{metrics.data && ` of ${metrics.data.service}`}</h2>
      {metrics.isError && <p className="hint">{metrics.error.message}</p>}
      {metrics.data?.problem && <p className="hint">{metrics.data.problem}</p>}
      <div className="charts">
        {CHARTS.map((c) => <Chart key={c.metric} title={c.title} unit={c.unit} points={metrics.data?.series[c.metric] ?? []} />)}
      </div>
    </section>
  );
}
