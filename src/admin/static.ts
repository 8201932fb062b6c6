/** Serves the built dashboard (dist/dashboard) with safe paths, content types and cache headers. */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HttpError } from './router.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

const CSP =
  "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; " +
  "script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/** dist/dashboard of this package: the same folder from src/admin (tsx, tests) and from dist/admin (built). */
export function defaultDashboardDir(): string {
  return fileURLToPath(new URL('../../dist/dashboard/', import.meta.url));
}

export async function serveStatic(
  root: string,
  path: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  let relative: string;
  try {
    relative = decodeURIComponent(path);
  } catch {
    throw new HttpError(400, 'malformed path');
  }
  if (relative.includes('\0')) throw new HttpError(400, 'malformed path');
  if (relative === '/' || relative === '') relative = '/index.html';
  const file = normalize(join(root, relative));
  if (!file.startsWith(normalize(root.endsWith(sep) ? root : root + sep))) throw new HttpError(404, 'not found');
  const info = await stat(file).catch(() => undefined);
  if (info === undefined || !info.isFile()) {
    if (relative === '/index.html') {
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`The dashboard is not built (${root}): run npm run build:dashboard.\n`);
      return;
    }
    throw new HttpError(404, 'not found');
  }
  const type = TYPES[extname(file)] ?? 'application/octet-stream';
  res.writeHead(200, {
    'content-type': type,
    'content-length': info.size,
    // Vite names assets by content hash: cache them for good; index.html always fresh.
    'cache-control': relative.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
    'content-security-policy': CSP,
    'x-frame-options': 'DENY',
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  createReadStream(file).pipe(res);
}
