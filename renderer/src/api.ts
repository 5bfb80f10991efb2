/**
 * Which host serves the API: Electron's preload puts `window.foolprint` on the page; otherwise we are
 * in browser mode and speak HTTP/SSE to `foolprint serve`. Either way the screens get one typed object.
 */
import { createApiClient } from '../../app/api/client.js';
import type { ApiTransport, FoolprintApi } from '../../app/api/client.js';
import { createBrowserTransport } from './transport-http.js';

function isTransport(value: unknown): value is ApiTransport {
  return typeof value === 'object' && value !== null && typeof (value as ApiTransport).invoke === 'function' && typeof (value as ApiTransport).subscribe === 'function';
}

export function connectApi(): { api: FoolprintApi; host: 'electron' | 'browser' } {
  const bridge = (globalThis as { foolprint?: unknown }).foolprint;
  if (isTransport(bridge)) return { api: createApiClient(bridge), host: 'electron' };
  // A preload that exposes the namespaced object itself (api.models.list(), api.onProgress()).
  if (typeof bridge === 'object' && bridge !== null && 'models' in bridge) return { api: bridge as FoolprintApi, host: 'electron' };
  return { api: createApiClient(createBrowserTransport()), host: 'browser' };
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Electron's native print dialog for an exported sheet (preload's `host.printSheet`); null in browser mode. */
export function hostPrintSheet(): ((input: { experimentId: string; sheetSetId: string }) => Promise<unknown>) | null {
  const host = (globalThis as { foolprint?: { host?: { printSheet?: unknown } } }).foolprint?.host;
  return typeof host?.printSheet === 'function' ? (host.printSheet as (input: { experimentId: string; sheetSetId: string }) => Promise<unknown>) : null;
}
