// The floor of a Node.js MQTT server for the `conns` scenario (bench/broker.sh --floor): a bare `net` server that
// answers every CONNECT with CONNACK and closes on DISCONNECT — no parsing beyond the first byte, no session, no
// state. What Node.js itself costs per connection (accept, socket object, one read, one write, close) on this machine;
// no broker built on net.Socket can accept connections faster or keep an idle one in less memory.
//
//   node bench/node-floor.mjs PORT
import net from 'node:net';

const port = Number(process.argv[2] ?? 28834);
const CONNACK = Buffer.from([0x20, 0x02, 0x00, 0x00]);
const PINGRESP = Buffer.from([0xd0, 0x00]);
const server = net.createServer({ noDelay: true }, (socket) => {
  socket.on('data', (data) => {
    const type = data[0] >> 4;
    if (type === 1) socket.write(CONNACK);
    else if (type === 12) socket.write(PINGRESP);
    else if (type === 14) socket.end();
  });
  socket.on('error', () => socket.destroy());
});
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
