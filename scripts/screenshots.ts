/**
 * Regenerates docs/images/dashboard-dark.png and dashboard-light.png: a broker with simulated traffic (sensors,
 * retained states, a few clients), the dashboard in headless Debian Chromium. Run: npx tsx scripts/screenshots.ts
 */
import { mkdirSync } from 'node:fs';
import { startAdminServer } from '../src/admin/index.js';
import { createBroker } from '../src/broker/index.js';
import { connect, type MqttClient } from '../src/client/index.js';
import { buildDashboard, launchChromium } from '../test/helpers/dashboard.js';

const SECONDS = Number(process.env.SECONDS_OF_TRAFFIC ?? 40);
const broker = createBroker({ sysInterval: 0 });
const { port } = await broker.listen({ host: '127.0.0.1', port: 0 });
const admin = await startAdminServer(broker, { port: 0, dashboardDir: await buildDashboard() });
const url = `mqtt://127.0.0.1:${port}`;

const clients: MqttClient[] = [];
for (const [id, version] of [
  ['gateway-kitchen', 5],
  ['gateway-garage', 5],
  ['dashboard-tv', 4],
  ['node-red', 5],
  ['home-assistant', 5],
  ['logger', 4],
] as const) {
  clients.push(await connect(url, { clientId: id, protocolVersion: version, reconnectPeriod: 0 }));
}
await clients[2]!.subscribe('home/+/temperature');
await clients[3]!.subscribe('home/#', { qos: 1 });
await clients[4]!.subscribe('home/#');
await clients[5]!.subscribe('#');
for (const [topic, value] of [
  ['home/kitchen/light', 'on'],
  ['home/garage/door', 'closed'],
  ['home/living/thermostat/setpoint', '21.5'],
  ['status/gateway-kitchen', '{"online":true,"fw":"1.4.2"}'],
] as const) {
  await clients[0]!.publish(topic, value, { qos: 1, retain: true });
}

const rooms = ['kitchen', 'living', 'bedroom', 'garage'];
let tick = 0;
const timer = setInterval(() => {
  tick++;
  const wave = 1 + Math.sin(tick / 25);
  for (const room of rooms) {
    const n = Math.round(3 + wave * 6 + Math.random() * 4);
    for (let i = 0; i < n; i++) {
      const t = (20 + Math.sin(tick / 40 + rooms.indexOf(room)) * 2 + Math.random() * 0.2).toFixed(2);
      void clients[room === 'garage' ? 1 : 0]!.publish(`home/${room}/temperature`, `{"celsius":${t},"battery":87}`);
    }
    void clients[0]!.publish(`home/${room}/humidity`, String(Math.round(40 + Math.random() * 10)));
  }
  if (tick % 7 === 0) void clients[1]!.publish('home/garage/motion', '{"detected":true}', { qos: 1 });
}, 100);

const browser = await launchChromium();
mkdirSync('docs/images', { recursive: true });
for (const theme of ['dark', 'light'] as const) {
  const page = await browser.newPage({ viewport: { width: 1440, height: 1000 }, colorScheme: theme });
  await page.goto(`http://127.0.0.1:${admin.address.port}/#${theme === 'dark' ? 'topics' : 'clients'}`);
  await page.locator('#status[data-state="live"]').waitFor();
  if (theme === 'dark') {
    await new Promise((resolve) => setTimeout(resolve, SECONDS * 1000));
    for (const path of ['home', 'home/kitchen', 'home/living', 'home/garage']) {
      await page.click(`[data-topic="${path}"] .twisty`);
    }
    await page.click('[data-topic="home/kitchen/temperature"]');
  } else {
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
  await page.screenshot({ path: `docs/images/dashboard-${theme}.png` });
  await page.close();
}
clearInterval(timer);
await browser.close();
for (const c of clients) await c.end(true);
await admin.close();
await broker.close();
console.log('wrote docs/images/dashboard-dark.png and docs/images/dashboard-light.png');
