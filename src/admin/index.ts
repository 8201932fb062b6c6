/** The admin server: Prometheus metrics, the JSON admin API, live events and the web dashboard (docs/admin-api.md). */
export { type RateSample, TopicActivity, type TopicSnapshot } from './activity.js';
export { type BrokerMetrics, createBrokerMetrics } from './metrics.js';
export { AdminServer, type AdminServerOptions, isLoopback, startAdminServer } from './server.js';
