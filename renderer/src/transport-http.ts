/**
 * Browser mode's transport for the typed API client: E1's fetch-based HTTP + SSE transport
 * (app/api/http-transport.ts: POST /api/<method>, events from GET /api/events) bound to this page's
 * origin and the browser's fetch. The session cookie set by the token exchange authenticates both;
 * nothing else in the renderer knows these paths.
 */
import { createHttpTransport } from '../../app/api/http-transport.js';
import type { FetchLike, HttpTransport } from '../../app/api/http-transport.js';
import { ApiError } from '../../app/api/errors.js';

export function createBrowserTransport(): HttpTransport {
  const pageFetch: FetchLike = async (url, init) => {
    try {
      return await fetch(url, init as RequestInit);
    } catch (error) {
      throw new ApiError('failed', `The Foolprint server cannot be reached (${error instanceof Error ? error.message : String(error)}); is \`foolprint serve\` still running?`);
    }
  };
  // baseUrl '': same origin as the page, which the server serves at its root.
  const transport = createHttpTransport({ baseUrl: '', fetch: pageFetch });
  addEventListener('pagehide', () => transport.close());
  return transport;
}
