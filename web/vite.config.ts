import { defineConfig } from "vite";

// The build goes into the Python package (committed), so `agentic-mlops serve` has a
// working app without Node.js; the CDK web stack deploys the same folder.
export default defineConfig({
  base: "./",
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: {
    outDir: "../shared/agentic_mlops/local/web_dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    reportCompressedSize: true,
  },
  test: { environment: "node", include: ["src/**/*.test.ts"] },
} as any);
