import { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createBroker } from '../../../src/broker/broker.js';
import { connackReturnCode311 } from '../../../src/broker/connection/connection.js';
import { encode, PacketType, ReasonCode } from '../../../src/codec/index.js';

/** A Duplex whose written data is never consumed (the peer does not read). */
function stuckPeer() {
  const held: unknown[] = [];
  const stream = new Duplex({
    read() {},
    write(_chunk, _encoding, callback) {
      held.push(callback);
    },
    writev(_chunks, callback) {
      held.push(callback);
    },
  });
  return { stream, held };
}

describe('Connection over any Duplex', () => {
  it('should stop reading a client that sends QoS 1 PUBLISH without reading its PUBACKs', async () => {
    const broker = createBroker({ sysInterval: 0, maxWriteBuffer: 16 * 1024 });
    await broker.ready;
    const { stream } = stuckPeer();
    broker.handle(stream);
    stream.push(
      encode(
        {
          type: PacketType.CONNECT,
          protocolName: 'MQTT',
          protocolVersion: 4,
          clean: true,
          keepAlive: 0,
          clientId: 'c',
        },
        4,
      ),
    );
    const payload = Buffer.alloc(16);
    for (let i = 1; i <= 20_000; i++) {
      stream.push(
        encode({ type: PacketType.PUBLISH, topic: 't', payload, qos: 1, retain: false, dup: false, packetId: i }, 4),
      );
      if (i % 500 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(stream.isPaused()).toBe(true);
    // 20,000 PUBACKs would be 80,000 bytes; reading stopped near the 16 KiB limit.
    expect(stream.writableLength).toBeLessThan(40 * 1024);
    expect(broker.stats.messagesReceived).toBeLessThan(20_000);
    stream.destroy();
    await broker.close();
  });

  it('should serve a client over an in-memory Duplex', async () => {
    const broker = createBroker({ sysInterval: 0 });
    const written: Buffer[] = [];
    const stream = new Duplex({
      read() {},
      write(chunk, _encoding, callback) {
        written.push(chunk);
        callback();
      },
    });
    broker.handle(stream);
    stream.push(
      encode(
        {
          type: PacketType.CONNECT,
          protocolName: 'MQTT',
          protocolVersion: 4,
          clean: true,
          keepAlive: 0,
          clientId: 'm',
        },
        4,
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(Buffer.concat(written)).toEqual(Buffer.from([0x20, 0x02, 0x00, 0x00]));
    stream.destroy();
    await broker.close();
  });
});

describe('connackReturnCode311', () => {
  it('maps MQTT 5.0 CONNACK reason codes to the nearest MQTT 3.1.1 return code', () => {
    expect(connackReturnCode311(ReasonCode.UnsupportedProtocolVersion)).toBe(1);
    expect(connackReturnCode311(ReasonCode.ClientIdentifierNotValid)).toBe(2);
    expect(connackReturnCode311(ReasonCode.ServerBusy)).toBe(3);
    expect(connackReturnCode311(ReasonCode.BadUserNameOrPassword)).toBe(4);
    expect(connackReturnCode311(ReasonCode.NotAuthorized)).toBe(5);
  });

  it('has no 3.1.1 return code for a malformed packet or protocol error: the connection is just closed', () => {
    expect(connackReturnCode311(ReasonCode.MalformedPacket)).toBeUndefined();
    expect(connackReturnCode311(ReasonCode.ProtocolError)).toBeUndefined();
  });
});
