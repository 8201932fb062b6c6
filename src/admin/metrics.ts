/**
 * Prometheus metrics (prom-client) for a broker. Nothing is added to the publish path: every broker metric is read
 * from the broker's own counters and state when Prometheus scrapes (collect callbacks). The only wrapper is around
 * the store's write() (one timer per batch, not per message), for the store latency histogram.
 */
import net from 'node:net';
import tls from 'node:tls';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Broker } from '../broker/broker.js';
import type { Cluster } from '../broker/cluster/cluster.js';
import type { Store } from '../broker/store/store.js';
import { ReasonCode } from '../codec/index.js';

const QOS = ['0', '1', '2'] as const;

/** Reason code → its name (the first name of a code shared by several). */
const REASON_NAMES = new Map<number, string>();
for (const [name, code] of Object.entries(ReasonCode)) if (!REASON_NAMES.has(code)) REASON_NAMES.set(code, name);

export function reasonName(code: number): string {
  return REASON_NAMES.get(code) ?? `0x${code.toString(16).padStart(2, '0')}`;
}

/** A listener label for a connection's stream: `tcp://addr:port`, `tls://addr:port`, or `websocket`. */
function listenerOf(stream: unknown): string {
  if (stream instanceof tls.TLSSocket) return `mqtts://${stream.localAddress}:${stream.localPort}`;
  if (stream instanceof net.Socket) return `mqtt://${stream.localAddress}:${stream.localPort}`;
  return 'websocket';
}

export interface BrokerMetrics {
  readonly registry: Registry;
  /** Undoes the store wrapper. */
  close(): void;
}

export function createBrokerMetrics(broker: Broker, options: { defaultMetrics?: boolean } = {}): BrokerMetrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'midge_' });
  const { stats } = broker;
  const registers = [registry];

  /** A counter whose value is read from the broker at scrape time. */
  const counter = (name: string, help: string, read: () => number) =>
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read());
      },
    });
  const byQos = (name: string, help: string, values: [number, number, number]) =>
    new Counter({
      name,
      help,
      labelNames: ['qos'],
      registers,
      collect() {
        this.reset();
        for (const qos of QOS) this.inc({ qos }, values[Number(qos)]!);
      },
    });

  gauge('midge_connections', 'Clients connected now', () => stats.connections);
  counter(
    'midge_connections_total',
    'Client connections accepted (CONNACK 0x00) since start',
    () => stats.connectionsTotal,
  );
  new Counter({
    name: 'midge_connections_refused_total',
    help: 'CONNECTs refused, by reason code',
    labelNames: ['reason', 'code'],
    registers,
    collect() {
      this.reset();
      for (const [code, count] of Object.entries(stats.connectionsRefused)) {
        const n = Number(code);
        this.inc({ reason: reasonName(n), code: `0x${n.toString(16).padStart(2, '0')}` }, count);
      }
    },
  });
  counter('midge_messages_received_total', 'PUBLISH packets received from clients', () => stats.messagesReceived);
  counter('midge_messages_sent_total', 'PUBLISH packets sent to clients', () => stats.messagesSent);
  byQos(
    'midge_messages_received_by_qos_total',
    'PUBLISH packets received from clients, by QoS',
    stats.messagesReceivedByQos,
  );
  byQos('midge_messages_sent_by_qos_total', 'PUBLISH packets sent to clients, by QoS', stats.messagesSentByQos);
  byQos(
    'midge_payload_bytes_received_total',
    'Payload bytes of the PUBLISH packets received, by QoS',
    stats.payloadBytesReceivedByQos,
  );
  byQos(
    'midge_payload_bytes_sent_total',
    'Payload bytes of the PUBLISH packets sent, by QoS',
    stats.payloadBytesSentByQos,
  );
  counter('midge_bytes_received_total', 'Bytes received from clients (all packets)', () => stats.bytesReceived);
  counter('midge_bytes_sent_total', 'Bytes sent to clients (all packets)', () => stats.bytesSent);
  new Counter({
    name: 'midge_messages_dropped_total',
    help:
      'Messages not delivered, by cause: queue-full, expired, packet-too-large, offline-qos0, session-ended, ' +
      'not-authorized (subscriber may not read it), publish-not-authorized (PUBLISH refused by authorizePublish)',
    labelNames: ['reason'],
    registers,
    collect() {
      this.reset();
      for (const [reason, count] of Object.entries(stats.droppedByReason)) this.inc({ reason }, count);
      this.inc({ reason: 'publish-not-authorized' }, stats.publishUnauthorized);
    },
  });
  counter(
    'midge_retained_dropped_total',
    'Retained messages for a new topic not kept because the retained store was full',
    () => stats.retainedDropped,
  );
  gauge('midge_subscriptions', 'Subscriptions (all clients)', () => broker.trie.size);
  gauge('midge_retained_messages', 'Retained messages', () => broker.retained.size);
  new Gauge({
    name: 'midge_sessions',
    help: 'Sessions, by state (online: a client is connected to it)',
    labelNames: ['state'],
    registers,
    collect() {
      let online = 0;
      for (const session of broker.sessions.values()) if (session.link !== undefined) online++;
      this.set({ state: 'online' }, online);
      this.set({ state: 'offline' }, broker.sessions.size - online);
    },
  });
  new Gauge({
    name: 'midge_session_messages',
    help: 'Outgoing messages held by sessions: inflight (awaiting acknowledgement) or queued',
    labelNames: ['state'],
    registers,
    collect() {
      let inflight = 0;
      let queued = 0;
      for (const session of broker.sessions.values()) {
        inflight += session.inflightCount;
        queued += session.queuedCount;
      }
      this.set({ state: 'inflight' }, inflight);
      this.set({ state: 'queued' }, queued);
    },
  });
  new Gauge({
    name: 'midge_listener_connections',
    help: 'Open network connections, by listener (mqtt://address:port, mqtts://address:port, websocket)',
    labelNames: ['listener'],
    registers,
    collect() {
      this.reset();
      const counts = new Map<string, number>();
      for (const connection of broker.connections) {
        const name = listenerOf(connection.stream);
        counts.set(name, (counts.get(name) ?? 0) + 1);
      }
      for (const [listener, count] of counts) this.set({ listener }, count);
    },
  });
  gauge('midge_uptime_seconds', 'Seconds since the broker started', () => (Date.now() - broker.startedAt) / 1000);
  // Cluster (docs/cluster.md): only when the broker had joined one when the metrics were made (the CLI joins first).
  const cluster = broker.cluster as Cluster | undefined;
  if (cluster !== undefined) {
    const c = cluster.stats;
    gauge('midge_cluster_nodes', 'Live cluster members, this node included', () => cluster.peers.size + 1);
    gauge(
      'midge_cluster_redis_reachable',
      '1 while the cluster Redis answers, 0 while degraded (local traffic only)',
      () => (cluster.degraded ? 0 : 1),
    );
    counter(
      'midge_cluster_forwarded_messages_total',
      'Local messages sent to at least one other node',
      () => c.forwardedMessages,
    );
    counter('midge_cluster_forwarded_frames_total', 'Stream entries sent to other nodes', () => c.forwardedFrames);
    counter(
      'midge_cluster_received_messages_total',
      'Stream entries received from other nodes',
      () => c.receivedMessages,
    );
    counter('midge_cluster_redis_errors_total', 'Redis commands of the cluster that failed', () => c.redisErrors);
    gauge('midge_cluster_outbox_messages', 'Messages for other nodes waiting in memory for Redis', () => c.outbox);
    counter(
      'midge_cluster_outbox_dropped_total',
      'Messages for other nodes dropped: outbox full',
      () => c.outboxDropped,
    );
    counter(
      'midge_cluster_sessions_taken_over_total',
      'Sessions taken over from another node',
      () => c.sessionsTakenOver,
    );
    counter('midge_cluster_sessions_handed_over_total', 'Sessions handed to another node', () => c.sessionsHandedOver);
    counter('midge_cluster_sessions_adopted_total', 'Sessions adopted from dead nodes', () => c.sessionsAdopted);
  }

  const unwrap = wrapStore(broker.options.store, registry);
  return {
    registry,
    close() {
      unwrap();
    },
  };
}

/** Times every store.write(batch) into a histogram; returns the function that restores the original write. */
function wrapStore(store: Store | undefined, registry: Registry): () => void {
  if (store === undefined) return () => {};
  const histogram = new Histogram({
    name: 'midge_store_write_seconds',
    help: 'Duration of one store write (one batch of operations, written once per event-loop turn)',
    labelNames: ['result'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const operations = new Counter({
    name: 'midge_store_operations_total',
    help: 'Operations written to the store',
    registers: [registry],
  });
  const original = store.write;
  store.write = function timedWrite(this: Store, batch) {
    const end = histogram.startTimer();
    operations.inc(batch.length);
    return original.call(this, batch).then(
      () => {
        end({ result: 'ok' });
      },
      (error: unknown) => {
        end({ result: 'error' });
        throw error;
      },
    );
  };
  return () => {
    store.write = original;
  };
}
