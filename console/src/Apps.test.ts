import { appPayload } from "./pages/Apps";

function form(values: Record<string, string>): FormData {
  const data = new FormData();
  Object.entries(values).forEach(([k, v]) => data.set(k, v));
  return data;
}

test("the create form makes the App payload, with autoscaling only when a metric is chosen", () => {
  const plain = appPayload(form({ name: "shop", image: "crane/hello:local", port: "8080", replicas: "2", metric: "" }));
  expect(plain).toEqual({ name: "shop", replicas: 2, services: [{ name: "web", image: "crane/hello:local", ports: ["8080"] }] });
  const scaled = appPayload(form({ name: "shop", image: "x", port: "", replicas: "1", cpus: "0.5", memory: "128m", metric: "rps", target: "5", min_scale: "1", max_scale: "4" }));
  expect(scaled).toEqual({
    name: "shop", replicas: 1, min_scale: 1, max_scale: 4, autoscaling: { metric: "rps", target: 5 },
    services: [{ name: "web", image: "x", ports: [], resources: { cpus: 0.5, memory: "128m" } }],
  });
});

test("a name the API refuses by its pattern is said in words", async () => {
  const { inWords } = await import("./pages/Apps");
  const said = inWords({ field: "name", message: "String should match pattern '^[a-z][a-z0-9-]{0,39}$'" });
  expect(said.message).toContain("lowercase letters, digits and dashes");
  expect(inWords({ field: "replicas", message: "too many" }).message).toBe("too many");
});
