/**
 * The browser bundle in a real browser: headless Chromium (Debian's `chromium` package, driven by playwright-core
 * with executablePath; no browser is ever downloaded) loads a test page with the esbuild bundle of
 * src/client/browser.ts, connects over ws:// to a Midge broker, subscribes, publishes and receives — its own
 * messages and one published from Node by our Node client. A screenshot of the page is saved as a test artifact
 * (test-results/browser-client.png). Without /usr/bin/chromium the test fails, saying how to install it.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Broker, createBroker } from '../../src/broker/index.js';
import { connect } from '../../src/client/index.js';
import { CHROMIUM, CHROMIUM_ARGS } from '../helpers/dashboard.js';

const SCREENSHOT = 'test-results/browser-client.png';

const PAGE = `<!doctype html>
<html>
<head>
  <meta charset="utf-8">
  <title>Midge client in the browser</title>
  <style>
    body { font: 14px system-ui, sans-serif; margin: 24px; }
    #status { font-weight: bold; }
    li { font-family: monospace; }
  </style>
</head>
<body>
  <h1>Midge client in the browser</h1>
  <p>Status: <span id="status">loading</span></p>
  <h2>Received</h2>
  <ul id="received"></ul>
  <script type="module">
    import * as midge from './midge-client.js';
    const status = document.getElementById('status');
    const list = document.getElementById('received');
    window.received = [];
    window.midgeTest = async (url) => {
      status.textContent = 'connecting to ' + url;
      const client = await midge.connect(url, { protocolVersion: 5, clientId: 'browser-page', reconnectPeriod: 0 });
      window.client = client;
      status.textContent = 'connected to ' + url + ' as ' + client.clientId;
      client.on('message', (topic, payload, message) => {
        const text = new TextDecoder().decode(payload);
        window.received.push({ topic, text, qos: message.qos });
        const item = document.createElement('li');
        item.textContent = topic + ' (QoS ' + message.qos + '): ' + text;
        list.append(item);
      });
      const granted = await client.subscribe('browser/#', { qos: 1 });
      const published = await client.publish('browser/page', 'hello from the page', { qos: 1 });
      return { granted: granted.map((g) => g.qos), published: published.reasonCode };
    };
    status.textContent = 'ready';
  </script>
</body>
</html>
`;

let dir: string;
let server: http.Server;
let pageUrl: string;
let broker: Broker;
let wsUrl: string;
let browser: Browser | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'midge-browser-'));
  const bundle = await build({
    entryPoints: ['src/client/browser.ts'],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    outfile: join(dir, 'midge-client.js'),
    logLevel: 'silent',
  });
  expect(bundle.errors).toEqual([]);
  const files: Record<string, [string, string]> = {
    '/': ['text/html; charset=utf-8', PAGE],
    '/midge-client.js': ['text/javascript', readFileSync(join(dir, 'midge-client.js'), 'utf8')],
  };
  server = http.createServer((req, res) => {
    const file = files[req.url ?? ''];
    if (file === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': file[0], 'cache-control': 'no-store' }).end(file[1]);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  pageUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;

  broker = createBroker({ sysInterval: 0 });
  const ws = await broker.listenWebSocket({ host: '127.0.0.1', port: 0 });
  wsUrl = `ws://127.0.0.1:${ws.port}/mqtt`;

  if (!existsSync(CHROMIUM)) return; // the test fails, saying so
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    timeout: 30_000,
    args: CHROMIUM_ARGS,
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await broker?.close();
  if (server !== undefined) await new Promise((resolve) => server.close(resolve));
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

type Received = { topic: string; text: string; qos: number }[];

/** What the test page puts on its global object (the test compiles without the DOM library). */
interface PageGlobals {
  received: Received;
  midgeTest(url: string): Promise<unknown>;
  client: { publish(topic: string, payload: string, options: object): Promise<unknown>; end(): Promise<void> };
}

const received = (page: Page) => page.evaluate(() => (globalThis as unknown as PageGlobals).received);
/** Waits (bounded) until the page has received `count` messages. */
const receivedCount = (page: Page, count: number) =>
  page.waitForFunction(`globalThis.received.length >= ${count}`, undefined, { timeout: 5000 });

describe('the browser bundle in headless Chromium', () => {
  it('connects over ws://, subscribes, publishes, and receives its own and Node-published messages', async () => {
    if (browser === undefined) {
      throw new Error(
        `headless Chromium is needed at ${CHROMIUM} for the browser test: install it with \`apt-get install -y chromium\` ` +
          '(Debian package; .ci/run does), or set CHROMIUM_PATH',
      );
    }
    const page = await browser.newPage({ viewport: { width: 800, height: 300 } });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(pageUrl, { timeout: 10_000 });
    await page.waitForFunction("document.getElementById('status')?.textContent === 'ready'", undefined, {
      timeout: 10_000,
    });

    const result = await page.evaluate((url) => (globalThis as unknown as PageGlobals).midgeTest(url), wsUrl);
    expect(result).toEqual({ granted: [1], published: 0 });
    await receivedCount(page, 1);

    // A message published from Node (our Node client, also over ws://) reaches the page.
    const node = await connect(wsUrl, { protocolVersion: 5, reconnectPeriod: 0 });
    try {
      const fromPage = new Promise<string>((resolve) =>
        node.once('message', (_topic, payload) => resolve(Buffer.from(payload).toString())),
      );
      await node.subscribe('from-browser/+', { qos: 1 });
      await node.publish('browser/node', 'hello from Node', { qos: 1 });
      await receivedCount(page, 2);
      // And the page publishes to a subscriber in Node.
      await page.evaluate(() =>
        (globalThis as unknown as PageGlobals).client.publish('from-browser/x', 'to Node', { qos: 2 }),
      );
      expect(await fromPage).toBe('to Node');
    } finally {
      await node.end();
    }

    expect(await received(page)).toEqual([
      { topic: 'browser/page', text: 'hello from the page', qos: 1 },
      { topic: 'browser/node', text: 'hello from Node', qos: 1 },
    ]);
    expect(await page.locator('#received li').allTextContents()).toEqual([
      'browser/page (QoS 1): hello from the page',
      'browser/node (QoS 1): hello from Node',
    ]);
    expect(await page.locator('#status').textContent()).toBe(`connected to ${wsUrl} as browser-page`);

    mkdirSync('test-results', { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(existsSync(SCREENSHOT)).toBe(true);

    await page.evaluate(() => (globalThis as unknown as PageGlobals).client.end());
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);
});
