/**
 * The preload: puts one `window.foolprint` object on the page, made of named functions generated
 * from the contract's method list (`api.models.list(input)` → ipcRenderer.invoke on that method's
 * own channel) and `onProgress` / `onJobFinished` / `onFrameAnalyzed` subscriptions. No generic send,
 * no sendSync, no ipcRenderer or event objects handed to the page.
 *
 * Sandboxed preloads cannot load ES modules or other files, so this is bundled into one CommonJS
 * file, dist/main/preload/preload.cjs, by main/preload/bundle.ts (rolldown, Vite's bundler).
 */
import { contextBridge, ipcRenderer } from 'electron';
import { API_METHOD_NAMES } from '../../app/api/methods.js';
import { API_EVENT_NAMES } from '../../app/api/events.js';
import { eventChannel, invokeChannel, PRINT_SHEET_CHANNEL } from './channels.js';
import type { IpcReply } from './channels.js';

/** Errors cross contextBridge as their message only; the main side already made it one line. */
function unwrap(reply: IpcReply): unknown {
  if (reply.ok) return reply.value;
  throw new Error(reply.error.message);
}

const api: Record<string, unknown> = {};
for (const method of API_METHOD_NAMES) {
  const [namespace, name] = method.split('.');
  const channel = invokeChannel(method);
  const group = (api[namespace] ??= {}) as Record<string, unknown>;
  group[name] = async (input?: unknown) => unwrap((await ipcRenderer.invoke(channel, input ?? {})) as IpcReply);
}
for (const event of API_EVENT_NAMES) {
  const channel = eventChannel(event);
  api[`on${event[0].toUpperCase()}${event.slice(1)}`] = (handler: (payload: unknown) => void) => {
    if (typeof handler !== 'function') throw new TypeError(`on${event}: expected a function`);
    // The page gets the payload only, never Electron's event (it carries the sender object).
    const listener = (_event: unknown, payload: unknown) => handler(payload);
    ipcRenderer.on(channel, listener);
    return () => {
      ipcRenderer.removeListener(channel, listener);
    };
  };
}
/** Host-only features the browser mode lacks. */
api.host = {
  kind: 'electron',
  printSheet: async (input: { experimentId: string; sheetSetId: string }) => unwrap((await ipcRenderer.invoke(PRINT_SHEET_CHANNEL, input)) as IpcReply),
};

contextBridge.exposeInMainWorld('foolprint', api);
