import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The dashboard is plain TypeScript (no framework); the admin server serves the output from dist/dashboard.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  // Relative asset URLs: the dashboard also works behind a reverse proxy under a sub-path.
  base: './',
  build: {
    outDir: fileURLToPath(new URL('../dist/dashboard', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    chunkSizeWarningLimit: 200,
  },
  logLevel: 'warn',
});
