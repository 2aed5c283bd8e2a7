import { explain, type Decision } from "./pages/Decisions";

const decision: Decision = {
  service: "web",
  alert: "HighRequestRate",
  action: "scale_up",
  reason: "rps 9.3 per replica is above the target 5: ceil(1 x 9.3 / 5) = 2, bounded to 2",
  current_replicas: 1,
  desired_replicas: 2,
  outcome: "applied",
};

test("a decision reads as what changed and the policy's arithmetic", () => {
  expect(explain(decision)).toBe(
    "Scale up web: 1 → 2, because rps 9.3 per replica is above the target 5: ceil(1 x 9.3 / 5) = 2, bounded to 2",
  );
  expect(explain({ ...decision, action: "none", desired_replicas: 1, outcome: "skipped", reason: "cooldown" })).toBe(
    "No change web: stays at 1, because cooldown (not applied)",
  );
});
