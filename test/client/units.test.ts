/** Keep-alive, back-off, topic aliases, topic matching, properties and URL options: no sockets. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ProtocolError } from '../../src/client/errors.js';
import { KeepAlive } from '../../src/client/keepalive.js';
import { connectPacket, resolveOptions } from '../../src/client/options.js';
import { fromUserPropertyPairs, toUserPropertyPairs } from '../../src/client/properties.js';
import { Backoff } from '../../src/client/reconnect.js';
import { topicMatches } from '../../src/client/topic.js';
import { TopicAliasReceiver, TopicAliasSender } from '../../src/client/topic-alias.js';

describe('KeepAlive', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sends PINGREQ only after keepalive ms without sending anything', () => {
    vi.useFakeTimers();
    const sendPing = vi.fn();
    const ka = new KeepAlive({ intervalMs: 1000, timeoutMs: 500, sendPing, onTimeout: vi.fn() });
    ka.start();
    vi.advanceTimersByTime(600);
    ka.packetSent();
    vi.advanceTimersByTime(600);
    expect(sendPing).not.toHaveBeenCalled();
    vi.advanceTimersByTime(500);
    expect(sendPing).toHaveBeenCalledTimes(1);
    ka.stop();
  });

  it('declares the connection dead when nothing answers the PINGREQ in time', () => {
    vi.useFakeTimers();
    const onTimeout = vi.fn();
    const ka = new KeepAlive({ intervalMs: 1000, timeoutMs: 500, sendPing: vi.fn(), onTimeout });
    ka.start();
    vi.advanceTimersByTime(1499);
    expect(onTimeout).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(onTimeout).toHaveBeenCalledTimes(1);
  });

  it('any packet received answers the PINGREQ', () => {
    vi.useFakeTimers();
    const onTimeout = vi.fn();
    const ka = new KeepAlive({ intervalMs: 1000, timeoutMs: 500, sendPing: vi.fn(), onTimeout });
    ka.start();
    vi.advanceTimersByTime(1200);
    expect(ka.waitingForPong).toBe(true);
    ka.packetReceived();
    vi.advanceTimersByTime(700);
    expect(onTimeout).not.toHaveBeenCalled();
    ka.stop();
  });

  it('a keepalive of 0 disables it', () => {
    vi.useFakeTimers();
    const sendPing = vi.fn();
    new KeepAlive({ intervalMs: 0, timeoutMs: 500, sendPing, onTimeout: vi.fn() }).start();
    vi.advanceTimersByTime(100_000);
    expect(sendPing).not.toHaveBeenCalled();
  });
});

describe('Backoff', () => {
  it('doubles from the reconnect period up to its ceiling', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0 });
    expect([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it('jitter takes up to half of each delay away', () => {
    const b = new Backoff({ initialMs: 1000, random: () => 0.999999 });
    expect(b.next()).toBe(500);
  });

  it('starts over after reset', () => {
    const b = new Backoff({ initialMs: 100, random: () => 0 });
    b.next();
    b.next();
    b.reset();
    expect(b.next()).toBe(100);
  });
});

describe('Topic aliases', () => {
  it('the first publish of a topic carries topic and alias, the next ones only the alias', () => {
    const s = new TopicAliasSender(2);
    expect(s.assign('a')).toEqual({ alias: 1, sendTopic: true });
    expect(s.assign('a')).toEqual({ alias: 1, sendTopic: false });
    expect(s.assign('b')).toEqual({ alias: 2, sendTopic: true });
  });

  it('reassigns the least recently used alias when all are taken', () => {
    const s = new TopicAliasSender(2);
    s.assign('a');
    s.assign('b');
    s.assign('a');
    expect(s.assign('c')).toEqual({ alias: 2, sendTopic: true });
  });

  it('assigns nothing when the broker allows no aliases', () => {
    expect(new TopicAliasSender(0).assign('a')).toBeUndefined();
  });

  it('resolves incoming aliases and refuses unknown or out-of-range ones', () => {
    const r = new TopicAliasReceiver(5);
    expect(r.resolve('x/y', 3)).toBe('x/y');
    expect(r.resolve('', 3)).toBe('x/y');
    expect(() => r.resolve('', 4)).toThrow(ProtocolError);
    expect(() => r.resolve('z', 6)).toThrow(expect.objectContaining({ reasonCode: 0x94 }));
  });
});

describe('topicMatches', () => {
  it.each([
    ['a/+/c', 'a/b/c', true],
    ['a/#', 'a', true],
    ['a/#', 'a/b/c', true],
    ['a/+', 'a/b/c', false],
    ['#', '$SYS/x', false],
    ['+/x', '$SYS/x', false],
    ['$SYS/#', '$SYS/x', true],
    ['$share/g/a/+', 'a/b', true],
    ['a/b', 'a/b/', false],
  ])('%s matches %s: %s', (filter, topic, expected) => {
    expect(topicMatches(filter, topic)).toBe(expected);
  });
});

describe('options', () => {
  it('reads protocol, host, port and credentials from the URL', () => {
    const o = resolveOptions('mqtts://us%40er:p%3Ass@example.com:8884');
    expect(o).toMatchObject({
      protocol: 'mqtts',
      host: 'example.com',
      port: 8884,
      username: 'us@er',
      password: 'p:ss',
    });
  });

  it('takes tcp:, ssl: and tls: as aliases and fills in MQTT.js defaults', () => {
    expect(resolveOptions('tcp://h')).toMatchObject({ protocol: 'mqtt', port: 1883, keepalive: 60, clean: true });
    expect(resolveOptions('ssl://h').protocol).toBe('mqtts');
    expect(resolveOptions('tls://h')).toMatchObject({ protocol: 'mqtts', port: 8883, protocolVersion: 4 });
    expect(resolveOptions('ws://h')).toMatchObject({ port: 80, path: '/mqtt', reconnectPeriod: 1000 });
  });

  it('refuses unknown schemes, including names of Object.prototype members', () => {
    expect(() => resolveOptions('http://h')).toThrow(/unsupported URL scheme 'http:'/);
    expect(() => resolveOptions('constructor://h')).toThrow(/unsupported URL scheme 'constructor:'/);
    expect(() => resolveOptions({ protocol: 'toString' as never, host: 'h' })).toThrow(/unsupported protocol/);
  });

  it('converts user properties to ordered pairs and back', () => {
    const pairs = toUserPropertyPairs({ a: '1', b: ['2', '3'] });
    expect(pairs).toEqual([
      ['a', '1'],
      ['b', '2'],
      ['b', '3'],
    ]);
    expect({ ...fromUserPropertyPairs(pairs) }).toEqual({ a: '1', b: ['2', '3'] });
  });

  it('builds the CONNECT packet with the will and MQTT 5.0 properties', () => {
    const packet = connectPacket(
      resolveOptions({
        clientId: 'c',
        protocolVersion: 5,
        will: { topic: 'w', payload: 'gone', qos: 1, properties: { willDelayInterval: 2, userProperties: { k: 'v' } } },
        properties: { sessionExpiryInterval: 60 },
      }),
    );
    expect(packet).toMatchObject({
      clientId: 'c',
      protocolVersion: 5,
      keepAlive: 60,
      will: { topic: 'w', qos: 1, retain: false, properties: { willDelayInterval: 2, userProperties: [['k', 'v']] } },
      properties: { sessionExpiryInterval: 60 },
    });
  });
});
