export {
  Cluster,
  type ClusterOptions,
  type ClusterStats,
  DEFAULT_CLUSTER_PREFIX,
  defaultNodeId,
  startCluster,
} from './cluster.js';
export type { ClusterHook } from './hook.js';
