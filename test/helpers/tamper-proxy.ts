import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LogPage, RootChain } from '../../src/shared/schemas';

/**
 * A test server that stands in front of a real Airlock server and serves its answers altered: the
 * "compromised or broken server" a console's mirror and a phone must catch. Log pages, the root
 * chain and `/updates` answers can be rewritten; everything else passes through unchanged (HEAD
 * answers keep their Content-Length). 127.0.0.1 only.
 */
export interface TamperProxy {
  readonly url: string;
  /** How to alter log pages from now on (null: pass through). */
  tamper: ((page: LogPage, after: number) => LogPage) | null;
  /** How to alter `/updates` answers from now on (null: pass through). */
  tamperUpdates: ((answer: Record<string, unknown>) => Record<string, unknown>) | null;
  /** How to alter `GET /api/v1/root` from now on (null: pass through). */
  tamperRoot: ((chain: RootChain) => RootChain) | null;
  close(): Promise<void>;
}

export async function startTamperProxy(target: () => string): Promise<TamperProxy> {
  const proxy: Pick<TamperProxy, 'tamper' | 'tamperUpdates' | 'tamperRoot'> = {
    tamper: null,
    tamperUpdates: null,
    tamperRoot: null,
  };
  const server: Server = createServer((req, res) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks);
      const url = new URL(req.url ?? '/', target());
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (typeof value === 'string' && name !== 'host' && name !== 'connection') {
          headers[name] = value;
        }
      }
      const upstream = await fetch(url, {
        method: req.method ?? 'GET',
        headers,
        ...(body.length > 0 ? { body } : {}),
      });
      const raw = Buffer.from(await upstream.arrayBuffer());
      let text: string | Buffer = raw.toString('utf8');
      if (!(upstream.headers.get('content-type') ?? '').includes('json')) text = raw; // bundles
      const tamper = proxy.tamper;
      if (tamper !== null && upstream.ok && /\/log$/.test(url.pathname)) {
        const after = Number(url.searchParams.get('after') ?? '0');
        text = JSON.stringify(tamper(JSON.parse(text.toString()) as LogPage, after));
      }
      const tamperRoot = proxy.tamperRoot;
      if (tamperRoot !== null && upstream.ok && url.pathname === '/api/v1/root') {
        text = JSON.stringify(tamperRoot(JSON.parse(text.toString()) as RootChain));
      }
      const tamperUpdates = proxy.tamperUpdates;
      if (tamperUpdates !== null && upstream.ok && url.pathname === '/updates') {
        text = JSON.stringify(
          tamperUpdates(JSON.parse(text.toString()) as Record<string, unknown>),
        );
      }
      if (req.method === 'HEAD') {
        const length = upstream.headers.get('content-length');
        const origin = upstream.headers.get('access-control-allow-origin');
        res.writeHead(upstream.status, {
          ...(length === null ? {} : { 'content-length': length }),
          ...(origin === null ? {} : { 'access-control-allow-origin': origin }),
        });
        res.end();
        return;
      }
      const cors = upstream.headers.get('access-control-allow-origin');
      res.writeHead(upstream.status, {
        'content-type': upstream.headers.get('content-type') ?? 'application/json',
        ...(cors === null ? {} : { 'access-control-allow-origin': cors }),
      });
      res.end(text);
    })().catch((error: unknown) => {
      res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'proxy', message: String(error) }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get tamper() {
      return proxy.tamper;
    },
    set tamper(value) {
      proxy.tamper = value;
    },
    get tamperUpdates() {
      return proxy.tamperUpdates;
    },
    set tamperUpdates(value) {
      proxy.tamperUpdates = value;
    },
    get tamperRoot() {
      return proxy.tamperRoot;
    },
    set tamperRoot(value) {
      proxy.tamperRoot = value;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
