/**
 * A loopback HTTP server that answers like the hub with recorded responses (test/fixtures/hub,
 * written from docs/api.md in the hub's shapes, test/datasource/shapes checks them; protocols.json
 * is `GET /api/v1/protocols` of a real `tapline hub`), for the frame-mapping tests that need no live store. It records every
 * request (path, query, body, headers) and how many are still open, so tests can check what the
 * data source asked for and that unsubscribing really closed the connection.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';

export interface HubRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: unknown;
}

export interface Reply {
  status?: number;
  body: unknown;
}

type Handler = (req: HubRequest, res: ServerResponse) => Reply | Promise<Reply>;

export function fixture<T = unknown>(name: string): T {
  return JSON.parse(readFileSync(join(__dirname, '../fixtures/hub', `${name}.json`), 'utf8')) as T;
}

export class RecordedHub {
  readonly requests: HubRequest[] = [];
  /** Requests whose response has not been sent and whose connection is still open. */
  open = 0;
  private readonly handlers = new Map<string, Handler>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  /** Listens on loopback; pass the port of a stopped hub to bring it back at the same URL. */
  static async start(port = 0): Promise<RecordedHub> {
    const box: { hub?: RecordedHub } = {};
    const server = createServer((req, res) => void box.hub!.handle(req, res));
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    const bound = (server.address() as AddressInfo).port;
    box.hub = new RecordedHub(server, `http://127.0.0.1:${bound}`);
    return box.hub;
  }

  /** Answers `METHOD /api/v1/...` with a handler, or with a fixed body. */
  on(method: string, path: string, handler: Handler | Reply): this {
    this.handlers.set(`${method} ${path}`, typeof handler === 'function' ? handler : () => handler);
    return this;
  }

  /** Requests to a path, in order. */
  calls(path: string): HubRequest[] {
    return this.requests.filter((r) => r.path === path);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const u = new URL(req.url ?? '/', this.url);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const r: HubRequest = { method: req.method ?? 'GET', path: u.pathname, query: u.searchParams, headers: req.headers, body: raw ? JSON.parse(raw) : undefined };
    this.requests.push(r);
    this.open++;
    let closed = false;
    res.on('close', () => {
      if (!closed) this.open--;
      closed = true;
    });
    const handler =
      this.handlers.get(`${r.method} ${r.path}`) ??
      [...this.handlers.entries()].find(([k]) => k.endsWith('/:id') && `${r.method} ${r.path}`.startsWith(k.slice(0, -3)))?.[1];
    const reply: Reply = handler
      ? await handler(r, res)
      : { status: 404, body: { error: { code: 'not_found', message: `no recorded response for ${r.method} ${r.path}` } } };
    if (res.destroyed || res.writableEnded) return;
    res.writeHead(reply.status ?? 200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(reply.body));
  }
}
