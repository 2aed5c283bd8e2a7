import { QueryClient, QueryClientProvider, useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { BrowserRouter, Link, Route, Routes } from "react-router-dom";
import { call, session, type Me } from "./api";
import { AppPage } from "./pages/AppPage";
import { Apps } from "./pages/Apps";
import { Login } from "./pages/Login";

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
        <nav aria-label="Main"><Link to="/">Apps</Link></nav>
        <span className="who">{me.data ? `${me.data.email} (${me.data.role})` : ""}</span>
        <button onClick={logout}>Log out</button>
      </header>
      <Routes>
        <Route path="/" element={<Apps />} />
        <Route path="/apps/:appId" element={<AppPage />} />
      </Routes>
    </BrowserRouter>
  );
}
