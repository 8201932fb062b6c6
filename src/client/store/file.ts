/**
 * A file-backed InflightStore for Node: an append-only log (`P <id> <base64 packet>` / `D <id>` lines), written
 * synchronously once per turn (one write for all the changes of the turn, in the same turn as the packets go to
 * the socket), and compacted when loaded. It survives a process restart; `fsync: true` also survives a power loss,
 * at the cost of one fsync per turn.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import type { InflightStore } from './store.js';

export interface FileInflightStoreOptions {
  /** fsync after each write. Default false. */
  fsync?: boolean;
}

export class FileInflightStore implements InflightStore {
  private fd: number | undefined;
  private pending: string[] = [];
  private scheduled = false;
  private readonly flows = new Map<number, string>();

  constructor(
    readonly path: string,
    private readonly options: FileInflightStoreOptions = {},
  ) {}

  async load(): Promise<Uint8Array[]> {
    this.flush();
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.flows.clear();
    if (existsSync(this.path)) {
      for (const line of readFileSync(this.path, 'utf8').split('\n')) {
        const [op, id, data] = line.split(' ');
        if (id === undefined) continue;
        if (op === 'P' && data !== undefined) {
          this.flows.delete(Number(id)); // keep first-stored order only for live flows: a replaced flow moves last
          this.flows.set(Number(id), data);
        } else if (op === 'D') this.flows.delete(Number(id));
      }
    }
    // Compact: rewrite the live flows, then append from there.
    const tmp = `${this.path}.tmp`;
    const fd = openSync(tmp, 'w');
    let text = '';
    for (const [id, data] of this.flows) text += `P ${id} ${data}\n`;
    writeSync(fd, text);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, this.path);
    this.fd = openSync(this.path, 'a');
    return [...this.flows.values()].map((data) => new Uint8Array(Buffer.from(data, 'base64')));
  }

  put(packetId: number, packet: Uint8Array): void {
    this.append(
      `P ${packetId} ${Buffer.from(packet.buffer, packet.byteOffset, packet.byteLength).toString('base64')}\n`,
    );
  }

  delete(packetId: number): void {
    this.append(`D ${packetId}\n`);
  }

  async close(): Promise<void> {
    this.flush();
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private append(line: string): void {
    this.pending.push(line);
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    if (this.fd === undefined) this.fd = openSync(this.path, 'a');
    writeSync(this.fd, this.pending.join(''));
    this.pending = [];
    if (this.options.fsync) fsyncSync(this.fd);
  }
}
