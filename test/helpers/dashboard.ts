/** Headless Debian Chromium (never downloaded) and a fresh build of the dashboard, for the browser tests and screenshots. */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { build } from 'vite';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Launches Chromium; throws with the install command when it is missing. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM}: install it with "apt-get install -y chromium" (or set CHROMIUM_PATH)`,
    );
  }
  return chromium.launch({ executablePath: CHROMIUM, timeout: 30_000, args: CHROMIUM_ARGS });
}

/** Builds the dashboard's current sources into a temporary folder (so the test never serves a stale build). */
export async function buildDashboard(): Promise<string> {
  const outDir = mkdtempSync(join(tmpdir(), 'midge-dashboard-'));
  await build({
    configFile: 'dashboard/vite.config.ts',
    build: { outDir, emptyOutDir: true },
    logLevel: 'silent',
  });
  return outDir;
}
