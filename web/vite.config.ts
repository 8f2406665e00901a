// The client is built into the Python package, which serves it (overleg/webui/serve.py).
// `npm run dev` serves it on :5173 and sends /api to an Overleg on :8000 (`make run`).
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

export default defineConfig({
  plugins: [react()],
  base: "/",
  build: {
    outDir: "../src/overleg/webui/dist",
    emptyOutDir: true,
    assetsInlineLimit: 0, // no data: URIs for assets: every file comes from this origin
    sourcemap: false,
    target: "es2022",
  },
  server: {
    proxy: { "/api": { target: "http://127.0.0.1:8000", ws: true } },
  },
});
