import { createMessage, type Outgoing } from '../../../src/broker/message.js';
import type { QoS } from '../../../src/codec/constants.js';

export function outgoing(qos: QoS, topic = 't', payload = 'p'): Outgoing {
  const message = createMessage(topic, Buffer.from(payload), qos, false, undefined, 'pub', Date.now());
  return { message, qos, retain: false, subscriptionIdentifiers: undefined };
}
