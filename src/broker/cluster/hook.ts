/**
 * What the broker core calls on its cluster (BrokerCore.cluster): nothing else of the cluster module is loaded
 * unless a cluster is configured, so a broker without --cluster never imports ioredis through this path.
 */
import type { Message } from '../message.js';

export interface ClusterHook {
  /** A message published on this node (client, will, application): forwarded to the nodes that want it. Returns the number of nodes it was sent to. */
  onLocalPublish(message: Message): number;
  /** Leaves the cluster and closes the Redis connections. */
  stop(): Promise<void>;
}
