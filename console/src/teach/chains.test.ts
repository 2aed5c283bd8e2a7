import { describeEvent, formatOffset, groupChains, litParts, type CraneEvent } from "./chains";

let seq = 0;
function ev(type: string, source: string, time: string, data: Record<string, unknown> = {}, correlationid?: string, id?: string): CraneEvent {
  seq += 1;
  return { seq: String(seq), id: id ?? `e${seq}`, type, source, time: `2026-11-28T10:00:${time}Z`, subject: "shop-7", correlationid, data };
}

test("events group by the chain they carry, steps in time order with their delay", () => {
  const created = ev("app.created", "crane/api", "00.000", {}, undefined, "req-1");
  const events = [
    ev("policy.admission", "crane/policy", "00.010", { allowed: true }, "req-1"),
    created,
    ev("alert.firing", "crane/alert-bridge", "05.000", { alertname: "CraneHighLoad", service: "web" }, "alert-fp-1"),
    ev("app.deployed", "crane/deployer", "02.500", { replicas: 2 }, "req-1"),
    ev("build.progress", "crane/deployer", "01.000", { lines: ["step 1"] }, "req-1"),
    ev("policy.decision", "crane/policy", "05.200", {
      alert: "CraneHighLoad", action: "scale_up", service: "web", reason: "rps 9.3 per replica is above the target 5: ceil(1 x 9.3 / 5) = 2",
      current_replicas: 1, desired_replicas: 2, outcome: "applied",
    }, "alert-fp-1"),
    ev("app.scaled", "crane/deployer", "07.000", { previous_replicas: 1, replicas: 2 }, "alert-fp-1"),
  ];
  const chains = groupChains(events);
  expect(chains.map((c) => c.id)).toEqual(["req-1", "alert-fp-1"]);
  const [request, alert] = chains;
  expect(request.steps.map((s) => s.event.type)).toEqual(["app.created", "policy.admission", "app.deployed"]);
  expect(request.steps.map((s) => s.offsetMs)).toEqual([0, 10, 2500]);
  expect(request.title).toBe("request accepted: deploy the app");
  expect(alert.spanMs).toBe(2000);
  expect(alert.steps.map((s) => s.text)).toEqual([
    "alert CraneHighLoad fired on web",
    "Scale up web: 1 → 2, because rps 9.3 per replica is above the target 5: ceil(1 x 9.3 / 5) = 2",
    "ready replicas 1 → 2",
  ]);
  expect(alert.steps[0].parts).toEqual(["prometheus", "alertmanager", "alert-bridge"]);
});

test("the diagram lights the parts the latest step went through", () => {
  expect([...litParts([])]).toEqual([]);
  const died = ev("container.died", "crane/deployer", "09.000", { container: "crane-shop-7-web-1", exit_code: 137 });
  expect(litParts([died])).toEqual(new Set(["deployer", "replicas", "nats"]));
  expect(describeEvent(died)).toBe("replica crane-shop-7-web-1 died (exit 137); replacing it");
  const clientIntent = ev("app.updated", "crane/deployer (client ada@example.com)", "09.500", { replicas: 3, service: "web" });
  expect(litParts([died, clientIntent])).toEqual(new Set(["deployer", "nats"]));
});

test("delays read in ms under a second and in seconds above", () => {
  expect(formatOffset(0)).toBe("+0 ms");
  expect(formatOffset(1234)).toBe("+1.23 s");
  expect(formatOffset(65_000)).toBe("+65.0 s");
});
