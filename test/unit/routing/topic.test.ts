import { describe, expect, it } from 'vitest';
import { parseSharedFilter, topicMatches } from '../../../src/broker/routing/topic.js';

// [spec id or section, filter, topic, expected]
const cases: [string, string, string, boolean][] = [
  // §4.7.1.2 Multi-level wildcard [MQTT-4.7.1-1]
  ['§4.7.1.2', 'sport/tennis/player1/#', 'sport/tennis/player1', true],
  ['§4.7.1.2', 'sport/tennis/player1/#', 'sport/tennis/player1/ranking', true],
  ['§4.7.1.2', 'sport/tennis/player1/#', 'sport/tennis/player1/score/wimbledon', true],
  ['§4.7.1.2', 'sport/tennis/player1/#', 'sport/tennis/player2', false],
  ['§4.7.1.2', 'sport/#', 'sport', true],
  ['§4.7.1.2', 'sport/#', 'sport/', true],
  ['§4.7.1.2', 'sport/#', 'sports', false],
  ['§4.7.1.2', '#', 'sport/tennis', true],
  ['§4.7.1.2', '#', '/', true],
  // §4.7.1.3 Single-level wildcard [MQTT-4.7.1-2]
  ['§4.7.1.3', 'sport/tennis/+', 'sport/tennis/player1', true],
  ['§4.7.1.3', 'sport/tennis/+', 'sport/tennis/player2', true],
  ['§4.7.1.3', 'sport/tennis/+', 'sport/tennis/player1/ranking', false],
  ['§4.7.1.3', 'sport/+', 'sport', false],
  ['§4.7.1.3', 'sport/+', 'sport/', true],
  ['§4.7.1.3', '+/+', '/finance', true],
  ['§4.7.1.3', '/+', '/finance', true],
  ['§4.7.1.3', '+', '/finance', false],
  ['§4.7.1.3', '+/tennis/#', 'sport/tennis/player1', true],
  ['§4.7.1.3', '+/+/+', 'a//c', true],
  // §4.7.2 Topics beginning with $ [MQTT-4.7.2-1]
  ['[MQTT-4.7.2-1]', '#', '$SYS/monitor/Clients', false],
  ['[MQTT-4.7.2-1]', '+/monitor/Clients', '$SYS/monitor/Clients', false],
  ['[MQTT-4.7.2-1]', '+', '$SYS', false],
  ['[MQTT-4.7.2-1]', '$SYS/#', '$SYS/', true],
  ['[MQTT-4.7.2-1]', '$SYS/#', '$SYS', true],
  ['[MQTT-4.7.2-1]', '$SYS/#', '$SYS/monitor/Clients', true],
  ['[MQTT-4.7.2-1]', '$SYS/monitor/+', '$SYS/monitor/Clients', true],
  ['[MQTT-4.7.2-1]', 'a/+', 'a/$b', true],
  ['[MQTT-4.7.2-1]', 'a/#', 'a/$b', true],
  // §4.7.3 Topic semantics: case sensitive, spaces significant, exact levels
  ['§4.7.3', 'ACCOUNTS', 'Accounts', false],
  ['§4.7.3', 'Accounts payable', 'Accounts payable', true],
  ['§4.7.3', '/finance', 'finance', false],
  ['§4.7.3', 'a/b', 'a/b/c', false],
  ['§4.7.3', 'a/b/c', 'a/b', false],
];

describe('topicMatches', () => {
  it.each(cases)('%s: %s vs %s → %s', (_id, filter, topic, expected) => {
    expect(topicMatches(filter, topic)).toBe(expected);
  });
});

describe('parseSharedFilter', () => {
  it('splits $share/{ShareName}/{filter} [MQTT-4.8.2-1], [MQTT-4.8.2-2]', () => {
    expect(parseSharedFilter('$share/g1/sport/#')).toEqual({ group: 'g1', filter: 'sport/#' });
    expect(parseSharedFilter('$share/g/+')).toEqual({ group: 'g', filter: '+' });
    expect(parseSharedFilter('$share/g//a')).toEqual({ group: 'g', filter: '/a' });
  });
  it('returns undefined for non-shared filters', () => {
    expect(parseSharedFilter('sport/#')).toBeUndefined();
    expect(parseSharedFilter('$SYS/#')).toBeUndefined();
    expect(parseSharedFilter('$sharex/g/a')).toBeUndefined();
    expect(parseSharedFilter('share/g/a')).toBeUndefined();
    expect(parseSharedFilter('$share/g')).toBeUndefined();
  });
});
