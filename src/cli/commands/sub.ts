/**
 * `midge sub`: subscribes and prints the messages, like mosquitto_sub, with the Midge client: -v, -F format, --json,
 * -C count, -W timeout (exit 27, as mosquitto_sub), -R, --retained-only, -T, -E. Exit codes: docs/cli.md.
 */
import type { Command } from 'commander';
import { createClient, type Message, type MqttClient, type SubscribeOptions } from '../../client/index.js';
import { topicMatches } from '../../client/topic.js';
import type { QoS } from '../../codec/index.js';
import { checkFormat, formatJson, formatMessage, formatVerbose } from '../format.js';
import {
  addConnectionOptions,
  type ConnectionFlags,
  clientTarget,
  collect,
  describeFailure,
  EXIT,
  exitWith,
  integer,
  positiveNumber,
  qos,
  reasonName,
  type Target,
} from '../mqtt-options.js';

interface SubFlags extends ConnectionFlags {
  topic?: string[];
  filterOut?: string[];
  qos: QoS;
  count?: number;
  timeout?: number;
  verbose?: boolean;
  format?: string;
  json?: boolean;
  eol: boolean;
  skipRetained?: boolean;
  retainedOnly?: boolean;
  exitOnSubscribe?: boolean;
}

export function registerSubCommand(program: Command): void {
  const command = program
    .command('sub')
    .description('subscribe and print the messages (the flags of mosquitto_sub)')
    .option('-t, --topic <filter>', 'topic filter to subscribe to (repeatable)', collect)
    .option('-T, --filter-out <filter>', 'do not print messages on topics matching this filter (repeatable)', collect)
    .option('-q, --qos <qos>', 'QoS of the subscriptions (0, 1, 2)', qos, 0 as QoS)
    .option('-C, --count <n>', 'exit after n messages', integer(1, Number.MAX_SAFE_INTEGER))
    .option('-W, --timeout <seconds>', 'exit with code 27 if not done after this many seconds', positiveNumber)
    .option('-v, --verbose', 'print "topic payload"')
    .option('-F, --format <format>', 'print with this format (%t topic, %p payload, …; see docs/cli.md)')
    .option('--json', 'print one JSON object per message (topic, payload, qos, retain, properties)')
    .option('-N, --no-eol', 'do not print a newline after each message (plain, -v and -F output)')
    .option('-R, --skip-retained', 'do not print stale messages (those with the retain flag)')
    .option('--retained-only', 'print retained messages only; exit at the first message that is not retained')
    .option('-E, --exit-on-subscribe', 'exit once the subscriptions are acknowledged');
  addConnectionOptions(command);
  command.action(async (flags: SubFlags, cmd: Command) => {
    let target: Target;
    try {
      target = clientTarget(flags, 'sub', ['connect', 'subscribe', 'will']);
      if (flags.format !== undefined) checkFormat(flags.format);
    } catch (error) {
      cmd.error(`error: ${(error as Error).message}`);
    }
    const topics = flags.topic ?? (target.urlTopic === undefined ? [] : [target.urlTopic]);
    if (topics.length === 0) cmd.error('error: a topic filter is needed: -t filter (or -L mqtt://host/filter)');
    if (flags.json && (flags.format !== undefined || flags.verbose))
      cmd.error('error: --json cannot be combined with -F or -v');
    if (flags.skipRetained && flags.retainedOnly) cmd.error('error: -R and --retained-only exclude each other');
    const eol = flags.eol ? '\n' : '';
    const render = (m: Message): string => {
      if (flags.json) return `${formatJson(m)}\n`;
      if (flags.format !== undefined) return formatMessage(flags.format, m) + eol;
      if (flags.verbose) return formatVerbose(m) + eol;
      return Buffer.from(m.payload.buffer, m.payload.byteOffset, m.payload.byteLength).toString('utf8') + eol;
    };
    const debug = (line: string) => {
      if (flags.debug) process.stderr.write(`${line}\n`);
    };

    let client: MqttClient | undefined;
    let finishing = false;
    let started = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const finish = async (code: number, message?: string): Promise<never> => {
      finishing = true;
      clearTimeout(timer);
      if (client !== undefined && !client.disconnected) {
        // Graceful: acknowledge what arrived, DISCONNECT. Bounded: a broker that does not answer is cut.
        await Promise.race([client.end(), new Promise((r) => setTimeout(r, 2000))]);
        await client.end(true).catch(() => {});
      }
      return exitWith(code, message, flags.quiet);
    };
    if (flags.timeout !== undefined) {
      timer = setTimeout(() => void finish(EXIT.timeout, 'Timed out'), Math.round(flags.timeout * 1000));
    }
    process.once('SIGINT', () => void finish(EXIT.ok));
    process.once('SIGTERM', () => void finish(EXIT.ok));

    let received = 0;
    try {
      debug(`Connecting to ${target.url} as ${target.options.clientId}`);
      client = createClient(target.url, target.options);
      client.on('message', (_topic, _payload, m) => {
        if (finishing) return;
        if (flags.filterOut?.some((f) => topicMatches(f, m.topic))) return;
        if (flags.retainedOnly && !m.retain) {
          void finish(EXIT.ok);
          return;
        }
        if (flags.skipRetained && m.retain) return;
        process.stdout.write(render(m));
        received++;
        if (flags.count !== undefined && received >= flags.count) void finish(EXIT.ok);
      });
      client.on('end', () => {
        if (finishing || !started) return;
        const { message, exitCode } = describeFailure(client?.error ?? new Error('connection lost'), target.describe);
        void finish(exitCode, message);
      });
      await client.start();
      started = true;
      debug('Connected');
      const subscribeOptions: SubscribeOptions = { qos: flags.qos };
      if (target.properties.subscribe !== undefined) subscribeOptions.properties = target.properties.subscribe;
      const grants = await client.subscribe(topics, subscribeOptions);
      let refused: number | undefined;
      for (const grant of grants) {
        if (grant.reasonCode >= 0x80) {
          refused ??= grant.reasonCode;
          if (!flags.quiet)
            process.stderr.write(`Subscription to ${grant.topic} refused: ${reasonName(grant.reasonCode)}\n`);
        } else {
          debug(`Subscribed to ${grant.topic} (QoS ${grant.reasonCode})`);
        }
      }
      if (refused !== undefined && grants.every((g) => g.reasonCode >= 0x80)) {
        return finish(refused, 'All subscription requests were denied');
      }
      if (flags.exitOnSubscribe) return finish(EXIT.ok);
    } catch (error) {
      if (finishing) return;
      const { message, exitCode } = describeFailure(error, target.describe);
      return finish(exitCode, message);
    }
  });
}
