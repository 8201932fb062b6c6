/**
 * The dashboard in headless Chromium (Debian's `chromium`, driven by playwright-core with executablePath; nothing is
 * downloaded), served by the admin server of a real broker with a token: it shows a client the test connects, its
 * message-rate chart moves when the test publishes, the Kick button disconnects the client (an MQTT 5.0 client
 * sees DISCONNECT 0x98 Administrative action), and the topic tree shows a published topic. Screenshots (dark and
 * light) go to test-results/. Without /usr/bin/chromium the test fails, saying how to install it.
 */
import { mkdirSync, rmSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AdminServer, startAdminServer } from '../../src/admin/index.js';
import { type Broker, createBroker } from '../../src/broker/index.js';
import { connect, type MqttClient } from '../../src/client/index.js';
import { buildDashboard, launchChromium } from '../helpers/dashboard.js';

const TOKEN = 'dashboard-test-token';

let broker: Broker;
let admin: AdminServer;
let mqttUrl: string;
let dashboardDir: string;
let browser: Browser | undefined;
let launchError: unknown;
const clients: MqttClient[] = [];

beforeAll(async () => {
  dashboardDir = await buildDashboard();
  broker = createBroker({ sysInterval: 0 });
  const address = await broker.listen({ host: '127.0.0.1', port: 0 });
  mqttUrl = `mqtt://127.0.0.1:${address.port}`;
  admin = await startAdminServer(broker, { port: 0, token: TOKEN, dashboardDir, defaultMetrics: false });
  try {
    browser = await launchChromium();
  } catch (error) {
    launchError = error;
  }
}, 60_000);

afterAll(async () => {
  await browser?.close();
  for (const client of clients) await client.end(true).catch(() => {});
  await admin?.close();
  await broker?.close();
  rmSync(dashboardDir, { recursive: true, force: true });
});

async function openDashboard(theme: 'dark' | 'light'): Promise<Page> {
  if (browser === undefined) throw launchError;
  const page = await browser.newPage({ viewport: { width: 1440, height: 1000 }, colorScheme: theme });
  // The token the login dialog would store.
  await page.addInitScript({ content: `localStorage.setItem('midge.adminToken', ${JSON.stringify(TOKEN)});` });
  await page.goto(`http://127.0.0.1:${admin.address.port}/`);
  await page.locator('#status[data-state="live"]').waitFor({ timeout: 10_000 });
  return page;
}

async function mqttClient(clientId: string): Promise<MqttClient> {
  const client = await connect(mqttUrl, { clientId, protocolVersion: 5, reconnectPeriod: 0 });
  clients.push(client);
  return client;
}

describe('dashboard', () => {
  it('asks for the token when it has none', async () => {
    if (browser === undefined) throw launchError;
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${admin.address.port}/`);
    await page.locator('dialog#login[open]').waitFor({ timeout: 10_000 });
    await page.fill('#token-input', TOKEN);
    await page.click('#login-form button');
    await page.locator('#status[data-state="live"]').waitFor({ timeout: 10_000 });
    await page.close();
  });

  it('shows a connected client, moves the chart when messages flow, shows the topic in the tree', async () => {
    const page = await openDashboard('dark');
    const subscriber = await mqttClient('dash-subscriber');
    await subscriber.subscribe('dash/#', { qos: 0 });
    await page.locator('tr[data-client-id="dash-subscriber"]').waitFor({ timeout: 10_000 });
    expect(await page.textContent('#kpi-connections')).toBe('1');

    const canvas = page.locator('#chart-messages canvas');
    const before = Number(await canvas.getAttribute('data-points'));
    // Publish for a little over two sampling intervals.
    const publisher = await mqttClient('dash-publisher');
    const deadline = Date.now() + 2500;
    let sent = 0;
    while (Date.now() < deadline) {
      for (let i = 0; i < 20; i++) await publisher.publish('dash/room1/temp', `{"celsius": ${20 + (sent++ % 5)}}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // The last point of the "in" series and the rate shown above the charts are above 0 (run in the page).
    await page.waitForFunction(
      `Number((document.querySelector('#chart-messages canvas')?.dataset.last ?? '0').split(',')[0]) > 0 &&
       Number(document.querySelector('#kpi-in')?.textContent ?? '0') > 0`,
      undefined,
      { timeout: 10_000 },
    );
    expect(Number(await canvas.getAttribute('data-points'))).toBeGreaterThan(before);

    await page.click('[data-tab="topics"]');
    await page.fill('#topic-search', 'room1');
    const node = page.locator('[data-topic="dash/room1/temp"]');
    await node.waitFor({ timeout: 10_000 });
    await node.click();
    await expect.poll(() => page.textContent('#topic-detail')).toContain('celsius');
    mkdirSync('test-results', { recursive: true });
    await page.screenshot({ path: 'test-results/dashboard-dark.png', fullPage: true });
    await page.close();
  });

  it('kicks a client from the page: the MQTT 5.0 client gets DISCONNECT 0x98', async () => {
    const page = await openDashboard('light');
    const victim = await mqttClient('dash-victim');
    const disconnected = new Promise<number | undefined>((resolve) => {
      victim.on('disconnect', (packet) => resolve(packet.reasonCode));
    });
    const button = page.locator('button[data-kick="dash-victim"]');
    await button.waitFor({ timeout: 10_000 });
    await page.screenshot({ path: 'test-results/dashboard-light.png', fullPage: true });
    await button.click(); // arms
    await page.locator('button[data-kick="dash-victim"].armed').waitFor();
    await page.locator('button[data-kick="dash-victim"]').click(); // confirms
    expect(await disconnected).toBe(0x98);
    await page.locator('tr[data-client-id="dash-victim"]').waitFor({ state: 'detached', timeout: 10_000 });
    expect(broker.clients.has('dash-victim')).toBe(false);
    await page.close();
  });
});
