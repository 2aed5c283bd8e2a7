import { useState } from "react";
import { ApiError, call, session, type FieldProblem } from "../api";
import { Field } from "../Field";

export function Login({ onLogin }: { onLogin: () => void }) {
  const [registering, setRegistering] = useState(false);
  const [problems, setProblems] = useState<FieldProblem[]>([]);
  const [message, setMessage] = useState<string | null>(null);

  async function submit(event: React.FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const credentials = { email: String(form.get("email")), password: String(form.get("password")) };
    setProblems([]);
    setMessage(null);
    try {
      if (registering) await call("POST", "/auth/register", { ...credentials, full_name: String(form.get("full_name")) });
      const { access_token } = await call<{ access_token: string }>("POST", "/auth/login", credentials);
      session.set(access_token);
      onLogin();
    } catch (error) {
      if (error instanceof ApiError) {
        setProblems(error.problems);
        setMessage(error.problems.length ? null : error.message);
      } else setMessage(String(error));
    }
  }

  return (
    <main className="narrow">
      <h1>CRANE</h1>
      <p className="lead">A cloud on your own machine.</p>
      <form onSubmit={submit} aria-label={registering ? "Register" : "Log in"}>
        {registering && <Field label="Full name" name="full_name" problems={problems} required />}
        <Field label="Email" name="email" type="email" autoComplete="username" problems={problems} required />
        <Field label="Password" name="password" type="password" autoComplete={registering ? "new-password" : "current-password"} problems={problems} required />
        {message && <p role="alert" className="error">{message}</p>}
        <button type="submit">{registering ? "Register" : "Log in"}</button>
        <button type="button" className="link" onClick={() => setRegistering(!registering)}>
          {registering ? "I have an account" : "Create an account"}
        </button>
      </form>
      <p className="hint">
        Anyone may create an account (a user: their own apps). The admin is <code>make up</code>'s own account:{" "}
        <code>admin@example.com</code> unless <code>CRANE_ADMIN_EMAIL</code> named another, with the password{" "}
        <code>make up</code> wrote to <code>deploy/.secrets/crane/admin.password</code> (<code>crane</code>: the suite's name).
      </p>
    </main>
  );
}
