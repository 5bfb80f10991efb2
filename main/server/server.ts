/**
 * Browser mode (`foolprint serve`): the renderer (renderer/dist) and the API on one loopback origin.
 *   POST /api/<method>   JSON in, JSON out, validated by the service with the contract's schemas
 *   GET  /api/events     Server-Sent Events: progress, jobFinished, frameAnalyzed
 *   GET  /*              the built renderer; `/?token=…` sets the session cookie and redirects
 * Plain node:http rather than Express: a handful of routes and no middleware, so every security check
 * (security.ts) is in plain sight and nothing is added to the dependency tree.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { API_EVENT_NAMES } from '../../app/api/events.js';
import { isApiMethodName } from '../../app/api/methods.js';
import { ApiError, toApiError } from '../../app/api/errors.js';
import type { ApiErrorCode } from '../../app/api/errors.js';
import { createFoolprintService, workspaceLockOwner } from '../../app/node/service.js';
import { WorkspaceLockedError, acquireWorkspaceLock } from '../../app/node/workspace-lock.js';
import type { FoolprintService } from '../../app/node/service.js';
import { repoRoot } from '../../app/node/model-loader.js';
import type { BackendName } from '../../app/node/backend.js';
import { COMMON_HEADERS, PAGE_CSP, SCRIPT_CSP, allowedHosts, checkHostAndOrigin, isAuthenticated, newToken, sessionCookie, tokensEqual } from './security.js';

export interface ServerOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Interface to bind; default 127.0.0.1 (loopback only). */
  host?: string;
  workspaceDir: string;
  /** Default: a fresh random token. */
  token?: string;
  /** Default: repoRoot()/renderer/dist. */
  rendererDir?: string;
  /** Use this service instead of creating one (it is then not closed by close()). */
  service?: FoolprintService;
  workers?: number;
  backend?: BackendName;
  /** Largest request body in bytes (default 64 MiB: a phone photo as base64 fits). */
  maxBodyBytes?: number;
  /** Most time a client may take to send a whole request, headers and body (default 120 s). */
  requestTimeoutMs?: number;
  /** Most time a client may take to send the request headers (default 20 s). */
  headersTimeoutMs?: number;
}

/**
 * 120 s carries the 64 MiB body limit at about 4.5 Mbit/s (a slow LAN with --host); on loopback an
 * upload takes well under a second. Without a bound, clients that trickle a body hold their
 * sockets and memory for ever (issue 7: 2,000 slow bodies were held for 90 s+).
 */
const DEFAULT_REQUEST_TIMEOUT_MS = 120_000;
const DEFAULT_HEADERS_TIMEOUT_MS = 20_000;
/**
 * Idle keep-alive connections: clients are told 5 s, the server closes them only after 10 s. A client
 * that trusts the advertised time (Node's fetch drops an idle socket 1 s before it, on a coarse timer)
 * could otherwise send its next request down a socket the server is closing at that very moment and
 * get "other side closed" (a POST is not retried): 7 of 10 runs of the HTTP contract test on a loaded
 * machine. Node 24 does the same with server.keepAliveTimeoutBuffer; Node 20 has no such option.
 */
const KEEP_ALIVE_ADVERTISED_S = 5;
const KEEP_ALIVE_IDLE_MS = 10_000;

export interface RunningServer {
  /** The URL to open, token included. */
  url: string;
  /** The origin without token. */
  origin: string;
  port: number;
  host: string;
  token: string;
  service: FoolprintService;
  close(): Promise<void>;
}

export class ServerStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ServerStartError';
  }
}

const STATUS_OF: Record<ApiErrorCode, number> = { 'invalid-input': 400, 'not-found': 404, 'not-available': 501, cancelled: 409, failed: 500 };

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

function send(response: ServerResponse, status: number, body: string | Buffer, headers: Record<string, string> = {}): void {
  response.writeHead(status, { ...COMMON_HEADERS, 'content-length': String(Buffer.byteLength(body)), ...headers });
  response.end(body);
}

function sendError(response: ServerResponse, status: number, code: ApiErrorCode, message: string): void {
  send(response, status, JSON.stringify({ error: { code, message } }), { 'content-type': 'application/json', 'cache-control': 'no-store' });
}

function sendPage(response: ServerResponse, status: number, title: string, text: string): void {
  const escaped = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escaped(title)}</title></head><body><h1>${escaped(title)}</h1><p>${escaped(text)}</p></body></html>`;
  send(response, status, html, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': PAGE_CSP, 'cache-control': 'no-store' });
}

async function readBody(request: IncomingMessage, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new ApiError('invalid-input', `request body larger than ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const bindHost = options.host ?? '127.0.0.1';
  const token = options.token ?? newToken();
  const rendererDir = path.resolve(options.rendererDir ?? path.join(repoRoot(), 'renderer', 'dist'));
  // The workspace is ours alone while we serve it: a second server (or the desktop app) on it is refused here, by name.
  const lock = await acquireWorkspaceLock(options.workspaceDir, workspaceLockOwner('browser')).catch((error: unknown) => {
    throw error instanceof WorkspaceLockedError ? new ServerStartError(error.message) : error;
  });
  const ownsService = options.service === undefined;
  const service = options.service ?? createFoolprintService({ workspaceDir: options.workspaceDir, host: 'browser', workers: options.workers, backend: options.backend });
  const maxBody = options.maxBodyBytes ?? 64 * 1024 * 1024;
  const eventStreams = new Set<ServerResponse>();
  let hosts = new Set<string>();
  let port = 0;

  async function handleApi(request: IncomingMessage, response: ServerResponse, route: string): Promise<void> {
    if (route === 'events') {
      if (request.method !== 'GET') return sendError(response, 405, 'invalid-input', 'GET /api/events');
      response.writeHead(200, { ...COMMON_HEADERS, 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      response.write(': foolprint events\n\n');
      const unsubscribers = API_EVENT_NAMES.map((event) => service.subscribe(event, (payload) => response.write(`event: ${event}\ndata: ${JSON.stringify(payload)}\n\n`)));
      // A comment now and then keeps proxies and idle timeouts from closing the stream.
      const keepAlive = setInterval(() => response.write(': keep-alive\n\n'), 15_000);
      eventStreams.add(response);
      const stop = () => {
        clearInterval(keepAlive);
        for (const unsubscribe of unsubscribers) unsubscribe();
        eventStreams.delete(response);
      };
      request.on('close', stop);
      response.on('close', stop);
      return;
    }
    if (request.method !== 'POST') return sendError(response, 405, 'invalid-input', `use POST /api/${route}`);
    if (!isApiMethodName(route)) return sendError(response, 404, 'not-found', `unknown API method "${route}"`);
    // JSON only: a cross-site form can post text/plain or form data, never application/json without a preflight.
    if (!(request.headers['content-type'] ?? '').toLowerCase().startsWith('application/json')) {
      return sendError(response, 415, 'invalid-input', 'the API takes Content-Type: application/json');
    }
    let input: unknown;
    try {
      const text = await readBody(request, maxBody);
      input = text.trim() === '' ? {} : JSON.parse(text);
    } catch (error) {
      const message = error instanceof ApiError ? error.message : `request body is not JSON: ${(error as Error).message}`;
      return sendError(response, error instanceof ApiError && message.startsWith('request body larger') ? 413 : 400, 'invalid-input', message);
    }
    try {
      const output = await service.invoke(route, input);
      send(response, 200, JSON.stringify(output ?? null), { 'content-type': 'application/json', 'cache-control': 'no-store' });
    } catch (error) {
      const apiError = toApiError(error);
      sendError(response, STATUS_OF[apiError.code], apiError.code, apiError.message);
    }
  }

  async function handleStatic(request: IncomingMessage, response: ServerResponse, pathname: string): Promise<void> {
    if (request.method !== 'GET' && request.method !== 'HEAD') return sendError(response, 405, 'invalid-input', 'GET only');
    if (!existsSync(path.join(rendererDir, 'index.html'))) {
      return sendPage(response, 503, 'Foolprint: the user interface is not built', `No renderer build in ${rendererDir}: run npm run build:renderer (npm start also builds it), then reload this page. The API is up at /api/.`);
    }
    let relative: string;
    try {
      relative = decodeURIComponent(pathname).replace(/^\/+/, '');
    } catch {
      return sendError(response, 400, 'invalid-input', 'bad path');
    }
    let file = path.resolve(rendererDir, relative || 'index.html');
    if (file !== rendererDir && !file.startsWith(rendererDir + path.sep)) return sendError(response, 403, 'invalid-input', 'path outside the renderer');
    const info = await stat(file).catch(() => null);
    if (!info?.isFile()) {
      // Unknown paths without an extension are client-side routes: serve the app.
      if (path.extname(file) !== '') return send(response, 404, 'not found', { 'content-type': 'text/plain; charset=utf-8' });
      file = path.join(rendererDir, 'index.html');
    }
    const extension = path.extname(file).toLowerCase();
    const body = await readFile(file);
    const isHtml = extension === '.html';
    send(response, 200, request.method === 'HEAD' ? Buffer.alloc(0) : body, {
      'content-type': MIME[extension] ?? 'application/octet-stream',
      'content-security-policy': isHtml ? PAGE_CSP : SCRIPT_CSP,
      // Vite names assets by content hash: cache those, never the page.
      'cache-control': isHtml ? 'no-store' : 'public, max-age=3600',
    });
  }

  const requestTimeout = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const headersTimeout = Math.min(options.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS, requestTimeout);
  // Node checks the two timeouts only every connectionsCheckingInterval (30 s by default), which
  // would let a slow client overstay a short timeout by that much.
  const connectionsCheckingInterval = Math.max(50, Math.min(1000, Math.floor(headersTimeout / 2)));
  // requestTimeout bounds receiving the request only: the SSE stream (GET, no body) and long
  // responses are not cut by it.
  const server = createServer({ requestTimeout, headersTimeout, connectionsCheckingInterval }, (request, response) => {
    // Our own Keep-Alive header replaces Node's (which would advertise the real idle timeout).
    response.setHeader('keep-alive', `timeout=${KEEP_ALIVE_ADVERTISED_S}`);
    void (async () => {
      const verdict = checkHostAndOrigin(request, hosts);
      if (!verdict.ok) return sendError(response, verdict.status, 'invalid-input', verdict.message);
      const url = new URL(request.url ?? '/', `http://${request.headers.host}`);
      const offered = url.searchParams.get('token');
      if (offered !== null && request.method === 'GET' && !url.pathname.startsWith('/api/')) {
        if (!tokensEqual(offered, token)) return sendPage(response, 403, 'Foolprint: wrong token', 'This link is not valid for the running server: open the URL that foolprint serve printed.');
        url.searchParams.delete('token');
        // Redirect so the token leaves the address bar and the history.
        response.writeHead(302, { ...COMMON_HEADERS, 'set-cookie': sessionCookie(token, port), location: `${url.pathname}${url.search}`, 'cache-control': 'no-store', 'content-length': '0' });
        return response.end();
      }
      if (!isAuthenticated(request, token, port)) {
        if (url.pathname.startsWith('/api/')) return sendError(response, 401, 'invalid-input', 'not signed in: open the URL printed by foolprint serve (it carries ?token=…)');
        return sendPage(response, 401, 'Foolprint: sign in', 'Open the URL printed by foolprint serve in the terminal: it carries the access token (…/?token=…).');
      }
      if (url.pathname.startsWith('/api/')) return handleApi(request, response, url.pathname.slice('/api/'.length));
      return handleStatic(request, response, url.pathname);
    })().catch((error: unknown) => {
      if (!response.headersSent) sendError(response, 500, 'failed', error instanceof Error ? error.message : String(error));
      else response.destroy();
    });
  });

  server.keepAliveTimeout = KEEP_ALIVE_IDLE_MS;

  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(new ServerStartError(error.code === 'EADDRINUSE' ? `port ${options.port} on ${bindHost} is in use: choose another with --port` : `cannot listen on ${bindHost}:${options.port ?? 0}: ${error.message}`));
    });
    server.listen(options.port ?? 0, bindHost, () => resolve());
  }).catch(async (error: unknown) => {
    if (ownsService) await service.close();
    await lock.release();
    throw error;
  });
  port = (server.address() as AddressInfo).port;
  hosts = allowedHosts(bindHost, port);
  const urlHost = ['0.0.0.0', '::', '127.0.0.1'].includes(bindHost) ? '127.0.0.1' : bindHost.includes(':') ? `[${bindHost}]` : bindHost;
  const origin = `http://${urlHost}:${port}`;
  hosts.add(`${urlHost}:${port}`);
  // Bound to every interface (--host 0.0.0.0): answer to this machine's own addresses, nothing else.
  if (['0.0.0.0', '::'].includes(bindHost)) {
    for (const address of Object.values(networkInterfaces()).flat()) {
      if (address) hosts.add(address.family === 'IPv6' ? `[${address.address}]:${port}` : `${address.address}:${port}`);
    }
  }

  return {
    url: `${origin}/?token=${token}`,
    origin,
    port,
    host: bindHost,
    token,
    service,
    async close() {
      for (const stream of eventStreams) stream.end();
      const closing = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closing;
      if (ownsService) await service.close();
      await lock.release();
    },
  };
}
