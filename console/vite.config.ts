import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

// The console is served by the API at / (same origin as /api/v1): no CORS, no CDN, works offline.
export default defineConfig({
  plugins: [react()],
  server: { proxy: { "/api": "http://localhost:8000" } },
  build: { outDir: "dist", sourcemap: false },
  test: { environment: "jsdom", globals: true, setupFiles: ["./src/test-setup.ts"] },
});
