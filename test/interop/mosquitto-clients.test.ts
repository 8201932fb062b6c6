/** mosquitto_pub / mosquitto_sub against our broker. Fails (never skips) if the binaries are missing. */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StartedBroker, startBroker } from '../helpers/broker.js';

const MOSQUITTO_PUB = '/usr/bin/mosquitto_pub';
const MOSQUITTO_SUB = '/usr/bin/mosquitto_sub';

let started: StartedBroker;

beforeAll(async () => {
  started = await startBroker();
});
afterAll(() => started.close());

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command with a hard kill timer; resolves with its exit code and output. */
function run(command: string, args: string[], timeoutMs = 8000): { done: Promise<Result> } {
  if (!existsSync(command)) throw new Error(`${command} is not installed`);
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise<Result>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
  return { done };
}

const common = () => ['-h', '127.0.0.1', '-p', String(started.port)];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('mosquitto clients', () => {
  it('the mosquitto client binaries are installed', () => {
    expect(existsSync(MOSQUITTO_PUB), `${MOSQUITTO_PUB} missing`).toBe(true);
    expect(existsSync(MOSQUITTO_SUB), `${MOSQUITTO_SUB} missing`).toBe(true);
  });

  for (const version of ['mqttv311', 'mqttv5', 'mqttv31'] as const) {
    for (const qos of ['0', '1', '2']) {
      it(`mosquitto_sub receives what mosquitto_pub sends (${version}, QoS ${qos}, wildcard filter)`, async () => {
        const topic = `mosq/${version}/${qos}`;
        const sub = run(MOSQUITTO_SUB, [
          ...common(),
          '-V',
          version,
          '-t',
          `mosq/${version}/+`,
          '-q',
          qos,
          '-C',
          '1',
          '-W',
          '5',
        ]);
        await sleep(400);
        const pub = await run(MOSQUITTO_PUB, [...common(), '-V', version, '-t', topic, '-q', qos, '-m', `hello ${qos}`])
          .done;
        expect(pub.code, pub.stderr).toBe(0);
        const result = await sub.done;
        expect(result.code, result.stderr).toBe(0);
        expect(result.stdout.trim()).toBe(`hello ${qos}`);
      });
    }
  }

  it('mosquitto_sub receives a retained message', async () => {
    const pub = await run(MOSQUITTO_PUB, [...common(), '-t', 'mosq/retained', '-q', '1', '-r', '-m', 'kept']).done;
    expect(pub.code, pub.stderr).toBe(0);
    const sub = await run(MOSQUITTO_SUB, [...common(), '-t', 'mosq/retained', '-C', '1', '-W', '5', '-v']).done;
    expect(sub.stdout.trim()).toBe('mosq/retained kept');
  });

  it('a persistent mosquitto_sub session receives messages queued while it was offline', async () => {
    const id = ['-i', 'mosq-persistent', '-c', '-q', '1'];
    const first = await run(MOSQUITTO_SUB, [...common(), ...id, '-t', 'mosq/offline', '-W', '1']).done;
    expect(first.code).not.toBe(null);
    const pub = await run(MOSQUITTO_PUB, [...common(), '-t', 'mosq/offline', '-q', '1', '-m', 'queued']).done;
    expect(pub.code, pub.stderr).toBe(0);
    const second = await run(MOSQUITTO_SUB, [...common(), ...id, '-t', 'mosq/offline', '-C', '1', '-W', '5']).done;
    expect(second.stdout.trim()).toBe('queued');
  });

  it('mosquitto_sub receives the will of a mosquitto_sub that is killed', async () => {
    const watcher = run(MOSQUITTO_SUB, [...common(), '-t', 'mosq/will', '-C', '1', '-W', '6']);
    await sleep(300);
    const dying = spawn(MOSQUITTO_SUB, [
      ...common(),
      '-t',
      'mosq/unused',
      '--will-topic',
      'mosq/will',
      '--will-payload',
      'bye',
    ]);
    await sleep(500);
    dying.kill('SIGKILL');
    const result = await watcher.done;
    expect(result.stdout.trim()).toBe('bye');
  });
});
