// The REST API as the console uses it: same origin, the token from the login in this tab only.

const TOKEN_KEY = "crane.token";

export type FieldProblem = { field: string; message: string };

export class ApiError extends Error {
  constructor(
    public status: number,
    message: string,
    public problems: FieldProblem[] = [],
  ) {
    super(message);
  }
}

export const session = {
  token: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  set: (token: string) => sessionStorage.setItem(TOKEN_KEY, token),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** FastAPI's error detail as a message and, for validation errors, the field each names. */
export function describe(status: number, detail: unknown): ApiError {
  if (Array.isArray(detail)) {
    const problems = detail.map((item: { loc?: unknown[]; msg?: string }) => ({
      field: (item.loc ?? []).filter((part) => part !== "body" && part !== "query").join("."),
      message: item.msg ?? "invalid",
    }));
    return new ApiError(status, problems.map((p) => (p.field ? `${p.field}: ${p.message}` : p.message)).join("; "), problems);
  }
  if (detail && typeof detail === "object" && "reasons" in detail) {
    const refusal = detail as { message?: string; reasons: string[] };
    const problems = refusal.reasons.map((reason) => {
      const [field, ...rest] = reason.split(": ");
      return rest.length ? { field, message: rest.join(": ") } : { field: "", message: reason };
    });
    return new ApiError(status, [refusal.message ?? "refused", ...refusal.reasons].join("; "), problems);
  }
  return new ApiError(status, typeof detail === "string" ? detail : `HTTP ${status}`);
}

export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const form = body instanceof FormData;
  const headers: Record<string, string> = {};
  const token = session.token();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined && !form) headers["Content-Type"] = "application/json";
  const response = await fetch(`/api/v1${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : form ? body : JSON.stringify(body),
  });
  if (response.status === 401 && token) {
    session.clear();
    window.dispatchEvent(new Event("crane:logged-out"));
  }
  const text = await response.text();
  const data = text ? JSON.parse(text) : undefined;
  if (!response.ok) throw describe(response.status, data?.detail);
  return data as T;
}

export type Service = { name: string; desired_replicas: number; running_replicas: number; autoscaling: boolean };
export type App = {
  id: string;
  name: string;
  owner: string; // the owner's email
  owner_id: string; // the owner's user id, never reused
  status: string;
  reason: string | null;
  desired_state: "running" | "stopped";
  desired_replicas: number;
  running_replicas: number;
  services: Service[];
  url: string | null;
  warnings: string[];
};
export type Me = { email: string; full_name: string; role: string };
