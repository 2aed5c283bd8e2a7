import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, vi } from "vitest";
import { Users } from "./pages/Admin";

afterEach(() => vi.unstubAllGlobals());

test("an admin sets a user's quota in place, and a refused number shows under its field", async () => {
  const patches: unknown[] = [];
  vi.stubGlobal("fetch", vi.fn(async (_url: string, init?: RequestInit) => {
    if (init?.method === "PATCH") {
      patches.push(JSON.parse(String(init.body)));
      return new Response(JSON.stringify({ detail: [{ loc: ["body", "quota", "cpus"], msg: "Input should be greater than or equal to 0" }] }), { status: 422 });
    }
    return new Response(JSON.stringify([{ email: "ada@example.com", full_name: "Ada", role: "user", quota: null }]), { status: 200 });
  }));
  render(<QueryClientProvider client={new QueryClient()}><Users /></QueryClientProvider>);
  expect(await screen.findByText("the policy's default")).toBeInTheDocument();
  await userEvent.click(screen.getByRole("button", { name: "Edit quota of ada@example.com" }));
  const cpus = screen.getByLabelText("CPUs");
  await userEvent.clear(cpus);
  await userEvent.type(cpus, "2.5");
  await userEvent.click(screen.getByRole("button", { name: "Save quota" }));
  expect(await screen.findByRole("alert")).toHaveTextContent("greater than or equal to 0");
  expect(cpus).toHaveAttribute("aria-invalid", "true");
  expect(screen.getByLabelText("Replicas")).not.toHaveAttribute("aria-invalid");
  expect(patches).toEqual([{ quota: { replicas: 20, cpus: 2.5, memory_mb: 8192 } }]);
});
