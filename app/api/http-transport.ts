/**
 * The browser-mode transport: POST /api/<method> with a JSON body, events from one Server-Sent
 * Events stream (GET /api/events). Written on fetch alone (no EventSource) so the same code runs in
 * the renderer and in Node tests; `fetch` is passed in, so this file stays free of DOM and Node.
 */
import type { ApiTransport } from './client.js';
import type { ApiEventName } from './events.js';
import { apiEvents } from './events.js';
import type { ApiMethodName } from './methods.js';
import { ApiError, apiErrorBodySchema } from './errors.js';

interface StreamReader {
  read(): Promise<{ done: boolean; value?: Uint8Array }>;
  cancel(): Promise<void>;
}
interface FetchResponse {
  ok: boolean;
  status: number;
  text(): Promise<string>;
  body: { getReader(): StreamReader } | null;
}
export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string; credentials?: 'same-origin'; signal?: unknown },
) => Promise<FetchResponse>;

export interface HttpTransportOptions {
  /** Origin of the server, e.g. "http://127.0.0.1:8765" ('' in the page itself: same origin). */
  baseUrl?: string;
  fetch: FetchLike;
  /** Extra headers, e.g. `{ authorization: 'Bearer <token>' }` outside a browser (the page uses its cookie). */
  headers?: Record<string, string>;
  /** Wait before reconnecting a dropped event stream (default 1000 ms). */
  reconnectMs?: number;
}

export interface HttpTransport extends ApiTransport {
  /** Stop the event stream (tests, page unload). */
  close(): void;
}

/** Parses an SSE byte stream into (event, data) pairs (HTML Living Standard, 9.2.6), ignoring comments. */
export function createSseParser(onEvent: (event: string, data: string) => void): (chunk: string) => void {
  let buffer = '';
  return (chunk) => {
    buffer += chunk.replace(/\r\n?/g, '\n');
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
      }
      if (data.length > 0) onEvent(event, data.join('\n'));
    }
  };
}

export function createHttpTransport(options: HttpTransportOptions): HttpTransport {
  const base = options.baseUrl ?? '';
  const headers = options.headers ?? {};
  const handlers = new Map<ApiEventName, Set<(payload: unknown) => void>>();
  let reader: StreamReader | null = null;
  let streaming = false;
  let closed = false;

  const dispatch = (event: string, data: string) => {
    if (!Object.hasOwn(apiEvents, event)) return;
    let payload: unknown;
    try {
      payload = JSON.parse(data);
    } catch {
      return;
    }
    for (const handler of handlers.get(event as ApiEventName) ?? []) handler(payload);
  };

  const stream = async () => {
    streaming = true;
    while (!closed && [...handlers.values()].some((set) => set.size > 0)) {
      try {
        const response = await options.fetch(`${base}/api/events`, { method: 'GET', headers: { ...headers, accept: 'text/event-stream' }, credentials: 'same-origin' });
        if (!response.ok || !response.body) throw new Error(`event stream: HTTP ${response.status}`);
        reader = response.body.getReader();
        const decoder = new TextDecoder();
        const parse = createSseParser(dispatch);
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          if (value) parse(decoder.decode(value, { stream: true }));
        }
      } catch {
        // Dropped or refused: retry below while anyone listens; calls report their own errors.
      }
      reader = null;
      if (!closed) await new Promise((resolve) => setTimeout(resolve, options.reconnectMs ?? 1000));
    }
    streaming = false;
  };

  return {
    async invoke(method: ApiMethodName, input: unknown) {
      const response = await options.fetch(`${base}/api/${method}`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify(input ?? {}),
        credentials: 'same-origin',
      });
      const text = await response.text();
      let body: unknown;
      try {
        body = text === '' ? undefined : JSON.parse(text);
      } catch {
        throw new ApiError('failed', `${method}: HTTP ${response.status}: ${text.slice(0, 200)}`);
      }
      if (response.ok) return body;
      const error = apiErrorBodySchema.safeParse(body);
      if (error.success) throw new ApiError(error.data.error.code, error.data.error.message);
      throw new ApiError('failed', `${method}: HTTP ${response.status}`);
    },
    subscribe(event, handler) {
      let set = handlers.get(event);
      if (!set) handlers.set(event, (set = new Set()));
      set.add(handler);
      if (!streaming && !closed) void stream();
      return () => {
        set.delete(handler);
      };
    },
    close() {
      closed = true;
      void reader?.cancel().catch(() => undefined);
    },
  };
}
