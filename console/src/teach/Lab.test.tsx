import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, vi } from "vitest";
import type { App } from "../api";
import { Lab } from "./Lab";
import { ChainTimeline } from "./Timeline";

afterEach(() => vi.unstubAllGlobals());

const app: App = {
  id: "shop-7", name: "shop", owner: "ada@example.com", owner_id: "u-5f0c8a3e9b2d4c7e8f1a6b3d2c9e0f14", status: "running", reason: null, desired_state: "running", desired_replicas: 2,
  running_replicas: 2, url: "http://shop-7.localhost/", warnings: [],
  services: [{ name: "web", desired_replicas: 2, running_replicas: 2, autoscaling: true }],
};

function json(status: number, body: unknown) {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

test("a load the API refuses shows the complaint under its field; a replica is killed by its number", async () => {
  const fetch = vi.fn(async (url: string, init?: RequestInit) => {
    if (url.endsWith("/lab/load") && init?.method === "GET") return json(200, null);
    if (url.endsWith("/lab/load")) return json(422, { detail: [{ loc: ["body", "path"], msg: "Value error, a path on the app's own host" }] });
    return json(202, { event_id: "k1", service: "web", replica: 1 });
  });
  vi.stubGlobal("fetch", fetch);
  render(<QueryClientProvider client={new QueryClient()}><Lab app={app} /></QueryClientProvider>);
  const path = screen.getByLabelText("Path");
  await userEvent.clear(path);
  await userEvent.type(path, "//elsewhere.example/");
  await userEvent.click(screen.getByRole("button", { name: "Start load" }));
  expect(await screen.findByRole("alert")).toHaveTextContent("a path on the app's own host");
  expect(path).toHaveAttribute("aria-invalid", "true");
  expect(screen.getByLabelText("Requests per second")).not.toHaveAttribute("aria-invalid");
  expect(fetch).toHaveBeenCalledWith(
    "/api/v1/apps/shop-7/lab/load",
    expect.objectContaining({ method: "POST", body: JSON.stringify({ rate: 20, seconds: 60, path: "//elsewhere.example/" }) }),
  );
  await userEvent.click(screen.getByRole("button", { name: "Kill replica 1 of web" }));
  await vi.waitFor(() =>
    expect(fetch).toHaveBeenCalledWith("/api/v1/apps/shop-7/lab/kill", expect.objectContaining({ body: JSON.stringify({ service: "web", replica: 1 }) })),
  );
});

test("the timeline shows each chain with what began it, its steps, who did them and when", () => {
  const at = (s: string) => `2026-11-28T10:00:${s}Z`;
  render(
    <ChainTimeline
      events={[
        { seq: "1", id: "k1", type: "app.kill_requested", source: "crane/api", time: at("00.000"), subject: "shop-7", data: { service: "web", replica: 1 } },
        { seq: "2", id: "d1", type: "container.died", source: "crane/deployer", time: at("00.300"), subject: "shop-7", correlationid: "k1", data: { container: "c-1", exit_code: 137 } },
        { seq: "3", id: "s1", type: "app.scaled", source: "crane/deployer", time: at("02.000"), subject: "shop-7", correlationid: "k1", data: { previous_replicas: 1, replicas: 2 } },
      ]}
    />,
  );
  const chain = screen.getAllByText("lab: kill replica 1 of web")[0].closest("details")!;
  expect(chain).toHaveTextContent("3 steps in 2.00 s");
  expect(chain).toHaveTextContent("+300 ms deployer replica c-1 died (exit 137); replacing it container.died");
  expect(chain).toHaveTextContent("+2.00 s deployer ready replicas 1 → 2");
});
