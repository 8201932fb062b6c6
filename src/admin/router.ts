/** A tiny router: method + path pattern (`/api/v1/clients/:id`, a trailing `*` takes the rest) → handler. */
import type { IncomingMessage, ServerResponse } from 'node:http';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  /** Path parameters, percent-decoded. */
  params: Record<string, string>;
}

/** What a handler returns: a JSON body (status 200 unless given), or nothing when it answered itself. */
export type HandlerResult = { status?: number; body: unknown } | undefined;
export type Handler = (context: RequestContext) => HandlerResult | Promise<HandlerResult>;

interface Route {
  method: string;
  segments: string[];
  handler: Handler;
}

export class Router {
  private readonly routes: Route[] = [];

  add(method: string, pattern: string, handler: Handler): this {
    this.routes.push({ method, segments: pattern.split('/').slice(1), handler });
    return this;
  }

  /** The handler and its parameters; a path that exists with another method gives `allowed` instead. */
  match(
    method: string,
    path: string,
  ): { handler: Handler; params: Record<string, string> } | { allowed: string[] } | undefined {
    const parts = path.split('/').slice(1);
    const allowed: string[] = [];
    for (const route of this.routes) {
      const params = matchSegments(route.segments, parts);
      if (params === undefined) continue;
      if (route.method === method || (method === 'HEAD' && route.method === 'GET')) {
        return { handler: route.handler, params };
      }
      allowed.push(route.method);
    }
    return allowed.length > 0 ? { allowed } : undefined;
  }
}

function matchSegments(segments: string[], parts: string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    if (segment === '*') {
      if (i >= parts.length) return undefined;
      params['*'] = decode(parts.slice(i).join('/'));
      return params;
    }
    const part = parts[i];
    if (part === undefined) return undefined;
    if (segment.startsWith(':')) {
      if (part.length === 0) return undefined;
      params[segment.slice(1)] = decode(part);
    } else if (segment !== part) return undefined;
  }
  return parts.length === segments.length ? params : undefined;
}

function decode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw new HttpError(400, 'malformed percent-encoding in the path');
  }
}
