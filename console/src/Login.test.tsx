import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, vi } from "vitest";
import { describe as describeError } from "./api";
import { Login } from "./pages/Login";

afterEach(() => vi.unstubAllGlobals());

function answer(status: number, body: unknown) {
  return vi.fn(async () => new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } }));
}

test("the API's complaint about a field shows under that field", async () => {
  const fetch = answer(422, { detail: [{ loc: ["body", "password"], msg: "String should have at least 8 characters" }] });
  vi.stubGlobal("fetch", fetch);
  render(<Login onLogin={() => {}} />);
  await userEvent.click(screen.getByRole("button", { name: "Create an account" }));
  await userEvent.type(screen.getByLabelText("Full name"), "Ada");
  await userEvent.type(screen.getByLabelText("Email"), "ada@example.com");
  await userEvent.type(screen.getByLabelText("Password"), "short");
  await userEvent.click(screen.getByRole("button", { name: "Register" }));
  const error = await screen.findByRole("alert");
  expect(error).toHaveTextContent("at least 8 characters");
  expect(screen.getByLabelText("Password")).toHaveAttribute("aria-invalid", "true");
  expect(screen.getByLabelText("Email")).not.toHaveAttribute("aria-invalid");
  expect(fetch).toHaveBeenCalledWith("/api/v1/auth/register", expect.objectContaining({ method: "POST" }));
});

test("a wrong password says so, and a good one logs in with the token kept for this tab", async () => {
  vi.stubGlobal("fetch", answer(401, { detail: "wrong email or password" }));
  const onLogin = vi.fn();
  render(<Login onLogin={onLogin} />);
  await userEvent.type(screen.getByLabelText("Email"), "ada@example.com");
  await userEvent.type(screen.getByLabelText("Password"), "nope");
  await userEvent.click(screen.getByRole("button", { name: "Log in" }));
  expect(await screen.findByRole("alert")).toHaveTextContent("wrong email or password");
  vi.stubGlobal("fetch", answer(200, { access_token: "tok", token_type: "bearer" }));
  await userEvent.click(screen.getByRole("button", { name: "Log in" }));
  await vi.waitFor(() => expect(onLogin).toHaveBeenCalled());
  expect(sessionStorage.getItem("crane.token")).toBe("tok");
});

test("an admission refusal becomes one problem per field it names", () => {
  const error = describeError(403, { message: "refused by the admission policy", reasons: ["services.web.privileged: not allowed"] });
  expect(error.problems).toEqual([{ field: "services.web.privileged", message: "not allowed" }]);
});
