/**
 * Ack-after-commit: with a durable store, PUBACK (QoS 1), PUBREC (QoS 2) and PUBCOMP go out only after the store
 * batch holding the message's effects (retained put, subscriber queue / inflight records, incoming QoS 2 id or its
 * removal) is committed, so that the broker never acknowledges what a crash could lose.
 *
 * Order: the acks of a connection are sent in the order they were produced ([MQTT-4.6.0-2..4]), whatever the
 * barriers resolve in. Each connection keeps a FIFO of groups, one group per store batch (its barrier promise), so
 * a flood of PUBLISH in one turn costs one promise reaction per connection, not one per message. Without a durable
 * store (none, or memory) acks are written at once and nothing here is allocated.
 *
 * A failed batch: an MQTT 5.0 PUBACK / PUBREC carries 0x80 Unspecified error (a PUBREC >= 0x80 also frees the
 * incoming packet id); a 3.1.1 client (which has no way to
 * be told) and any PUBCOMP (whose reason codes cannot say it) get their connection closed instead.
 */
import { PacketType, type PubackPacket, type PubcompPacket, type PubrecPacket, ReasonCode } from '../../codec/index.js';
import type { Connection } from '../connection/connection.js';

export type AckPacket = PubackPacket | PubrecPacket | PubcompPacket;

const PENDING = 0;
const WRITTEN = 1;
const FAILED = 2;

interface Group {
  barrier: Promise<void>;
  packets: AckPacket[];
  state: typeof PENDING | typeof WRITTEN | typeof FAILED;
}

class AckQueue {
  private readonly groups: Group[] = [];

  constructor(private readonly connection: Connection) {}

  add(barrier: Promise<void>, packet: AckPacket): void {
    const last = this.groups[this.groups.length - 1];
    if (last !== undefined && last.barrier === barrier) {
      last.packets.push(packet);
      return;
    }
    const group: Group = { barrier, packets: [packet], state: PENDING };
    this.groups.push(group);
    barrier.then(
      () => this.settled(group, WRITTEN),
      () => this.settled(group, FAILED),
    );
  }

  get idle(): boolean {
    return this.groups.length === 0;
  }

  private settled(group: Group, state: typeof WRITTEN | typeof FAILED): void {
    group.state = state;
    const { connection } = this;
    while (this.groups.length > 0 && this.groups[0]!.state !== PENDING) {
      const head = this.groups.shift()!;
      if (head.state === WRITTEN) {
        for (const packet of head.packets) connection.send(packet);
        continue;
      }
      for (const packet of head.packets) {
        if (connection.protocolVersion === 5 && packet.type !== PacketType.PUBCOMP) {
          // A PUBREC >= 0x80 ends the QoS 2 exchange: the packet id is free again (no PUBREL will come).
          if (packet.type === PacketType.PUBREC) connection.session?.incoming.pubrel(packet.packetId);
          connection.send({ ...packet, reasonCode: ReasonCode.UnspecifiedError });
        } else {
          this.groups.length = 0;
          connection.broker.logger?.warn({ clientId: connection.clientId }, 'store write failed: closing connection');
          connection.close('store write failed');
          break;
        }
      }
    }
    if (this.groups.length === 0) queues.delete(connection);
  }
}

const queues = new WeakMap<Connection, AckQueue>();

const SETTLED = Promise.resolve();

/** The last pair of barriers combined, so that the acks of one turn share one promise (one group). */
let lastStore: Promise<void> | undefined;
let lastCluster: Promise<void> | undefined;
let lastBoth: Promise<void> | undefined;

function both(store: Promise<void>, cluster: Promise<void>): Promise<void> {
  if (store !== lastStore || cluster !== lastCluster) {
    lastStore = store;
    lastCluster = cluster;
    lastBoth = Promise.all([store, cluster]).then(() => {});
  }
  return lastBoth!;
}

/**
 * Sends a PUBACK / PUBREC / PUBCOMP now (no durable store, no cluster forward pending) or once the store has
 * committed what precedes it and, in a cluster, once the messages forwarded to other nodes in this turn are in
 * Redis (cluster/streams.ts).
 */
export function sendAck(connection: Connection, packet: AckPacket): void {
  const { broker } = connection;
  const writer = broker.storeWriter;
  const cluster = broker.cluster;
  if (cluster === undefined && (writer === undefined || broker.options.store?.durable !== true)) {
    // Nothing to wait for, ever: no ack of this connection is queued either.
    connection.send(packet);
    return;
  }
  const stored = writer !== undefined && broker.options.store?.durable === true ? writer.barrier() : undefined;
  const forwarded = cluster?.barrier();
  const barrier = stored === undefined ? forwarded : forwarded === undefined ? stored : both(stored, forwarded);
  let queue = queues.get(connection);
  if (barrier === undefined && queue === undefined) {
    connection.send(packet);
    return;
  }
  if (queue === undefined) {
    queue = new AckQueue(connection);
    queues.set(connection, queue);
  }
  // Without a barrier of its own, an ack still waits behind the earlier ones: the order is kept.
  queue.add(barrier ?? SETTLED, packet);
}

/** Acks of this connection waiting for a store commit (tests). */
export function pendingAcks(connection: Connection): boolean {
  return queues.get(connection)?.idle === false;
}
