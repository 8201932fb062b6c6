import { describe, expect, it } from 'vitest';
import { PacketIdAllocator } from '../../../src/broker/session/packet-ids.js';

describe('PacketIdAllocator', () => {
  it('hands out ids starting at 1 and counting up', () => {
    const ids = new PacketIdAllocator();
    expect([ids.allocate(), ids.allocate(), ids.allocate()]).toEqual([1, 2, 3]);
    expect(ids.size).toBe(3);
  });

  it('does not reuse a released id at once but continues round-robin', () => {
    const ids = new PacketIdAllocator();
    ids.allocate();
    ids.allocate();
    ids.release(1);
    expect(ids.allocate()).toBe(3);
  });

  it('wraps from 65535 to 1 and skips ids still in use', () => {
    const ids = new PacketIdAllocator();
    for (let i = 0; i < 65_535; i++) ids.allocate();
    expect(ids.allocate()).toBeUndefined();
    ids.release(2);
    ids.release(65_535);
    expect(ids.allocate()).toBe(2);
    expect(ids.allocate()).toBe(65_535);
    expect(ids.allocate()).toBeUndefined();
  });

  it('never hands out 0', () => {
    const ids = new PacketIdAllocator();
    for (let i = 0; i < 70_000; i++) {
      const id = ids.allocate();
      expect(id).not.toBe(0);
      if (id !== undefined) ids.release(id);
    }
  });

  it('reserves a specific id for a restored session and refuses to reserve it twice', () => {
    const ids = new PacketIdAllocator();
    expect(ids.reserve(7)).toBe(true);
    expect(ids.reserve(7)).toBe(false);
    expect(ids.has(7)).toBe(true);
    expect(ids.release(7)).toBe(true);
    expect(ids.release(7)).toBe(false);
  });
});
