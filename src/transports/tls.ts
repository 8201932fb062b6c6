/**
 * TLS listener (`mqtts`, default port 8883): every socket that completed its handshake is handed to the broker.
 * Mutual TLS as Mosquitto's listener options: `requireCertificate` (require_certificate) asks for a client
 * certificate and refuses the handshake without a valid one (signed by `ca`, cafile); `useIdentityAsUsername`
 * (use_identity_as_username) passes the certificate's Common Name on, to be used as the user name.
 * A handshake must finish within `handshakeTimeout` (the broker passes its connect timeout), so sockets that never
 * speak TLS do not linger.
 */
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';

export interface TlsListenOptions {
  /** Default 8883; 0 for an ephemeral port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** PEM server certificate (chain) and private key. */
  cert: string | Buffer;
  key: string | Buffer;
  /** PEM CA certificate(s) client certificates must be signed by. */
  ca?: string | Buffer;
  /** Clients must present a certificate signed by `ca`. Default false. */
  requireCertificate?: boolean;
  /** Use the client certificate's CN as the user name (needs requireCertificate). Default false. */
  useIdentityAsUsername?: boolean;
  /** Milliseconds a TLS handshake may take. Default 10,000. */
  handshakeTimeout?: number;
}

export interface TlsPeer {
  certificate?: tls.PeerCertificate;
  certificateIdentity?: string;
}

export async function listenTls(
  handle: (stream: Duplex, peer: TlsPeer | undefined) => void,
  options: TlsListenOptions,
): Promise<net.Server> {
  if (options.useIdentityAsUsername && !options.requireCertificate) {
    throw new Error('useIdentityAsUsername needs requireCertificate');
  }
  if (options.requireCertificate && options.ca === undefined) throw new Error('requireCertificate needs a CA (ca)');
  const server = tls.createServer({
    cert: options.cert,
    key: options.key,
    ca: options.ca,
    requestCert: options.requireCertificate === true,
    rejectUnauthorized: options.requireCertificate === true,
    handshakeTimeout: options.handshakeTimeout ?? 10_000,
  });
  server.on('secureConnection', (socket) => {
    socket.setNoDelay(true);
    let peer: TlsPeer | undefined;
    if (options.requireCertificate && socket.authorized) {
      const certificate = socket.getPeerCertificate();
      const cn = certificate.subject?.CN;
      peer = {
        certificate,
        certificateIdentity: options.useIdentityAsUsername ? ((Array.isArray(cn) ? cn[0] : cn) ?? '') : undefined,
      };
    }
    handle(socket, peer);
  });
  // A failed handshake (no or bad client certificate, garbage, timeout) only concerns that socket.
  server.on('tlsClientError', (_error, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8883, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
