/**
 * In-process cluster nodes for tests: a broker joined to a cluster on a real redis-server, listening on a free
 * loopback port; and a bounded wait for a condition.
 */
import { type Broker, createBroker } from '../../src/broker/broker.js';
import { type Cluster, startCluster } from '../../src/broker/cluster/index.js';
import { RedisStore } from '../../src/broker/store/redis.js';

export interface ClusterNode {
  id: string;
  broker: Broker;
  cluster: Cluster;
  port: number;
}

export interface ClusterNodeOptions {
  prefix: string;
  heartbeatMs: number;
  ttlMs: number;
  /** A Redis store on the cluster's Redis under `<prefix>store:<id>:` (adoptable), instead of no store. */
  durable?: boolean;
}

export async function startClusterNode(
  redisUrl: string,
  id: string,
  options: ClusterNodeOptions,
): Promise<ClusterNode> {
  const { prefix, heartbeatMs, ttlMs } = options;
  const store = options.durable ? new RedisStore({ url: redisUrl, prefix: `${prefix}store:${id}:` }) : undefined;
  const broker = createBroker({ sysInterval: 0, store });
  const cluster = await startCluster(broker, { url: redisUrl, nodeId: id, prefix, heartbeatMs, ttlMs });
  const { port } = await broker.listen({ host: '127.0.0.1', port: 0 });
  return { id, broker, cluster, port };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `condition` every 20 ms; throws after `timeoutMs`, naming `what` it waited for. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}
