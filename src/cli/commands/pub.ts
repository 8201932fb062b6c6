/**
 * `midge pub`: publishes one message (-m, -f, -s, -n) or one message per line of stdin (-l), like mosquitto_pub, with
 * the Midge client. Exit codes: docs/cli.md § Exit codes.
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { connect, type MqttClient, type PublishOptions } from '../../client/index.js';
import type { QoS } from '../../codec/index.js';
import {
  addConnectionOptions,
  type ConnectionFlags,
  clientTarget,
  describeFailure,
  EXIT,
  exitWith,
  integer,
  nonNegativeNumber,
  qos,
  type Target,
} from '../mqtt-options.js';

interface PubFlags extends ConnectionFlags {
  topic?: string;
  message?: string;
  file?: string;
  stdinLine?: boolean;
  stdinFile?: boolean;
  nullMessage?: boolean;
  qos: QoS;
  retain?: boolean;
  repeat: number;
  repeatDelay: number;
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export function registerPubCommand(program: Command): void {
  const command = program
    .command('pub')
    .description('publish a message (the flags of mosquitto_pub)')
    .option('-t, --topic <topic>', 'topic to publish to')
    .option('-m, --message <message>', 'message payload')
    .option('-f, --file <file>', 'send the contents of a file as the message')
    .option('-l, --stdin-line', 'read stdin, send a message for each line')
    .option('-s, --stdin-file', 'read stdin, send it all as one message')
    .option('-n, --null-message', 'send a zero-length message')
    .option('-q, --qos <qos>', 'QoS of the message (0, 1, 2)', qos, 0 as QoS)
    .option('-r, --retain', 'retain the message')
    .option('--repeat <count>', 'with -m, -f or -s: publish the message this many times', integer(1, 1_000_000_000), 1)
    .option('--repeat-delay <seconds>', 'seconds between repeated publishes', nonNegativeNumber, 0);
  addConnectionOptions(command);
  command.action(async (flags: PubFlags, cmd: Command) => {
    let target: Target;
    try {
      target = clientTarget(flags, 'pub', ['connect', 'publish', 'will']);
    } catch (error) {
      cmd.error(`error: ${(error as Error).message}`);
    }
    const topic = flags.topic ?? target.urlTopic;
    if (topic === undefined) cmd.error('error: a topic is needed: -t topic (or -L mqtt://host/topic)');
    const sources = [
      flags.message !== undefined,
      flags.file !== undefined,
      flags.stdinLine,
      flags.stdinFile,
      flags.nullMessage,
    ];
    if (sources.filter(Boolean).length !== 1) {
      cmd.error('error: give exactly one message source: -m message, -f file, -l, -s or -n');
    }
    if (flags.repeat > 1 && flags.stdinLine) cmd.error('error: --repeat applies to -m, -f, -s and -n only');
    let payload: Uint8Array | undefined;
    try {
      if (flags.message !== undefined) payload = Buffer.from(flags.message, 'utf8');
      else if (flags.file !== undefined) payload = readFileSync(flags.file);
      else if (flags.nullMessage) payload = new Uint8Array(0);
    } catch (error) {
      cmd.error(
        `error: cannot read ${flags.file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      );
    }
    const options: PublishOptions = { qos: flags.qos, retain: flags.retain ?? false };
    if (target.properties.publish !== undefined) options.properties = target.properties.publish;
    const debug = (line: string) => {
      if (flags.debug) process.stderr.write(`${line}\n`);
    };

    let client: MqttClient;
    try {
      debug(`Connecting to ${target.url} as ${target.options.clientId}`);
      client = await connect(target.url, target.options);
      debug('Connected');
    } catch (error) {
      const { message, exitCode } = describeFailure(error, target.describe);
      return exitWith(exitCode, message, flags.quiet);
    }
    let lost: unknown;
    client.on('error', (error) => {
      lost = error;
    });
    const stop = () => {
      client.end(true).finally(() => exitWith(EXIT.error, 'Interrupted', flags.quiet));
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      if (flags.stdinLine) {
        // Each line is a message, an empty line an empty message (as mosquitto_pub -l); in order, one at a time.
        const lines = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
        for await (const line of lines) {
          await client.publish(topic, line, options);
          debug(`Published to ${topic} (${Buffer.byteLength(line)} bytes)`);
        }
      } else {
        payload ??= await readStdin();
        for (let i = 0; i < flags.repeat; i++) {
          if (i > 0 && flags.repeatDelay > 0) await new Promise((r) => setTimeout(r, flags.repeatDelay * 1000));
          await client.publish(topic, payload, options);
          debug(`Published to ${topic} (${payload.length} bytes, QoS ${flags.qos})`);
        }
      }
      await client.end();
    } catch (error) {
      await client.end(true).catch(() => {});
      const { message, exitCode } = describeFailure(lost ?? error, target.describe);
      return exitWith(exitCode, message, flags.quiet);
    }
    return exitWith(EXIT.ok, undefined, flags.quiet);
  });
}
