/**
 * What the broker core calls on its cluster (BrokerCore.cluster): nothing else of the cluster module is loaded
 * unless a cluster is configured, so a broker without --cluster never imports ioredis through this path.
 */
import type { Will } from '../../codec/index.js';
import type { Message } from '../message.js';

export interface ClusterHook {
  /**
   * A message published on this node (client, will, application): forwarded to the nodes that want it. Returns the
   * number of nodes it was sent to. May set `trie.shareFilter` for the local routing of this message (the share
   * groups whose member is chosen on this node); the broker clears it afterwards.
   */
  onLocalPublish(message: Message): number;
  /** Settles when what this turn forwarded is in Redis: acknowledgements to publishers wait for it. */
  barrier(): Promise<void> | undefined;
  /**
   * A client connects here: makes this node the owner of its session, taking the session over from the node that
   * had it (installed here when the client resumes it). Never rejects.
   */
  claimSession(clientId: string, clean: boolean): Promise<void>;
  /** The client is connected here (with its will, kept in Redis so that it fires if this node dies). */
  clientConnected(clientId: string, will: Will | undefined): void;
  /** The current connection of the client closed (its will, if any, was published, scheduled or discarded). */
  clientDisconnected(clientId: string): void;
  /** The session ended here (expired, clean, or taken over): this node no longer owns it. */
  sessionEnded(clientId: string): void;
  /** Leaves the cluster and closes the Redis connections. */
  stop(): Promise<void>;
}
