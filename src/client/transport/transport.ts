/**
 * The client's view of a byte transport. The client core never imports a socket API: a TransportFactory, chosen by
 * URL scheme, opens the connection and reports through TransportHandlers. TCP, TLS and WebSocket (Node's `ws` or
 * the browser's WebSocket) are a few dozen lines each.
 */
import type { ResolvedOptions } from '../options.js';

export interface TransportHandlers {
  /** The connection is open: the client may write. */
  onOpen(): void;
  /** Bytes arrived (any chunking). */
  onData(chunk: Uint8Array): void;
  /** The transport's write buffer drained below its high-water mark after a write returned false. */
  onDrain(): void;
  /** The connection is gone; called exactly once, with the error if one caused it. */
  onClose(error?: Error): void;
}

export interface Transport {
  /** Writes bytes; false when the transport is over its high-water mark (onDrain follows). */
  write(data: Uint8Array): boolean;
  /** Flushes what was written, then closes. */
  end(): void;
  /** Closes now, dropping anything unsent. */
  destroy(): void;
}

export type TransportFactory = (options: ResolvedOptions, handlers: TransportHandlers) => Transport;
