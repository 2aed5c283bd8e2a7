import { QueryClient, QueryClientProvider, useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { BrowserRouter, Link, Route, Routes } from "react-router-dom";
import { call, session, type Me } from "./api";
import { Policies, Users } from "./pages/Admin";
import { AppPage } from "./pages/AppPage";
import { Apps } from "./pages/Apps";
import { Login } from "./pages/Login";
import { Watch } from "./pages/Watch";

const queries = new QueryClient({ defaultOptions: { queries: { retry: 1 } } });

export function App() {
  const [loggedIn, setLoggedIn] = useState(session.token() !== null);
  useEffect(() => {
    const out = () => setLoggedIn(false);
    window.addEventListener("crane:logged-out", out);
    return () => window.removeEventListener("crane:logged-out", out);
  }, []);
  return (
    <QueryClientProvider client={queries}>
      {loggedIn ? <Shell onLogout={() => setLoggedIn(false)} /> : <Login onLogin={() => setLoggedIn(true)} />}
    </QueryClientProvider>
  );
}

function Shell({ onLogout }: { onLogout: () => void }) {
  const me = useQuery({ queryKey: ["me"], queryFn: () => call<Me>("GET", "/users/me") });
  async function logout() {
    await call("POST", "/auth/logout").catch(() => undefined);
    session.clear();
    queries.clear();
    onLogout();
  }
  return (
    <BrowserRouter>
      <header>
        <Link to="/" className="brand">CRANE</Link>
        <nav aria-label="Main">
          <Link to="/">Apps</Link>
          {me.data?.role === "admin" && <> <Link to="/admin/users">Users</Link> <Link to="/admin/policies">Policies</Link></>}
        </nav>
        <span className="who">{me.data ? `${me.data.email} (${me.data.role})` : ""}</span>
        <button onClick={logout}>Log out</button>
      </header>
      <Routes>
        <Route path="/" element={<Apps />} />
        <Route path="/apps/:appId" element={<AppPage />} />
        <Route path="/apps/:appId/watch" element={<Watch />} />
        <Route path="/admin/users" element={<Users />} />
        <Route path="/admin/policies" element={<Policies />} />
      </Routes>
    </BrowserRouter>
  );
}
