/**
 * The IPC bridge without Electron: main-side handlers called with fake events (foreign senders and
 * bad payloads refused before the service sees them), registration on a fake ipcMain, one real call
 * through E1's service, and the bundled preload run the way a sandboxed renderer runs it (one classic
 * script whose `require` knows only `electron`).
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { API_METHOD_NAMES, apiMethods } from '../app/api/methods.js';
import type { ApiMethodName } from '../app/api/methods.js';
import { API_EVENT_NAMES } from '../app/api/events.js';
import { ApiError } from '../app/api/errors.js';
import { createIpcHandler, createPrintSheetHandler, registerIpcHandlers } from '../main/electron/ipc.js';
import type { HostService, IpcCallEvent } from '../main/electron/ipc.js';
import { eventChannel, invokeChannel, PRINT_SHEET_CHANNEL } from '../main/preload/channels.js';
import { bundlePreload, projectRoot } from '../main/preload/bundle.js';
import { APP_ENTRY_URL } from '../main/electron/security.js';
import { tempDirForTest } from './temp-dir.js';

const ownFrame: IpcCallEvent = { senderFrame: { url: APP_ENTRY_URL } };

function recordingService(answer: (method: ApiMethodName, input: unknown) => unknown = () => 'answer'): HostService & { calls: [ApiMethodName, unknown][] } {
  const calls: [ApiMethodName, unknown][] = [];
  return {
    calls,
    async invoke(method, input) {
      calls.push([method, input]);
      return answer(method, input);
    },
  };
}

describe('IPC handlers (main side)', () => {
  it.each([
    ['another site', { senderFrame: { url: 'https://evil.example/' } }],
    ['a look-alike scheme host', { senderFrame: { url: 'foolprint://app.evil/index.html' } }],
    ['a file:// page', { senderFrame: { url: 'file:///tmp/index.html' } }],
    ['a frame that is gone', { senderFrame: null }],
  ])('refuses a call from %s without reaching the service', async (_, event) => {
    const service = recordingService();
    const reply = await createIpcHandler('experiments.list', service)(event as IpcCallEvent, {});
    expect(reply).toMatchObject({ ok: false, error: { code: 'failed' } });
    expect(!reply.ok && reply.error.message).toMatch(/^refused: the call came from .*, not from Foolprint's own page$/);
    expect(service.calls).toEqual([]);
  });

  it.each([
    ['experiments.create', { name: '' }, /^Name must not be empty$/],
    ['experiments.create', 'a string', /^The input must be a set of fields/],
    ['jobs.get', { jobId: '../../etc' }, /^Job must be an id/],
    ['system.info', { sneaky: true }, /^"sneaky" is not a field$/],
    ['sheets.preview', { experimentId: 'e1', runId: 'r1', cellMm: 1000 }, /^Cell \(mm\) must be at most 200, got 1000$/],
  ] as const)('%s rejects the bad payload %j as invalid-input', async (method, payload, message) => {
    const service = recordingService();
    const reply = await createIpcHandler(method, service)(ownFrame, payload);
    expect(reply.ok).toBe(false);
    expect(!reply.ok && reply.error.code).toBe('invalid-input');
    expect(!reply.ok && reply.error.message).toMatch(message);
    expect(service.calls).toEqual([]);
  });

  it('a good payload reaches the service parsed (defaults filled); the answer comes back', async () => {
    const service = recordingService(() => ({ pageCount: 1 }));
    const reply = await createIpcHandler('sheets.preview', service)(ownFrame, { experimentId: 'e1', runId: 'r1' });
    expect(reply).toEqual({ ok: true, value: { pageCount: 1 } });
    expect(service.calls).toEqual([['sheets.preview', { experimentId: 'e1', runId: 'r1', pairs: true, paper: 'a4', orientation: 'portrait', cellMm: 30, dpi: 300, page: 1, previewDpi: 72 }]]);
  });

  it('service errors keep their code and come back as one line', async () => {
    const notFound = recordingService(() => {
      throw new ApiError('not-found', 'no experiment "x"');
    });
    expect(await createIpcHandler('experiments.get', notFound)(ownFrame, { experimentId: 'x' })).toEqual({ ok: false, error: { code: 'not-found', message: 'no experiment "x"' } });
    const crash = recordingService(() => {
      throw new Error('disk full\n    at write (fs.js:1)');
    });
    expect(await createIpcHandler('experiments.list', crash)(ownFrame, {})).toEqual({ ok: false, error: { code: 'failed', message: 'disk full' } });
  });

  it('registers one channel per API method plus printing, and removes them all', () => {
    const handlers = new Map<string, unknown>();
    const ipcMain = { handle: (channel: string, listener: unknown) => void handlers.set(channel, listener), removeHandler: (channel: string) => void handlers.delete(channel) };
    const dispose = registerIpcHandlers(ipcMain, recordingService(), { print: async () => ({ printed: true, message: '' }) });
    expect([...handlers.keys()].sort()).toEqual([...API_METHOD_NAMES.map(invokeChannel), PRINT_SHEET_CHANNEL].sort());
    expect(API_METHOD_NAMES.length).toBe(Object.keys(apiMethods).length);
    dispose();
    expect(handlers.size).toBe(0);
  });

  it('printing takes a sheet set id, never a path: the PDF path comes from the service', async () => {
    const service = recordingService(() => [{ sheetSetId: 's1', pdfPath: '/ws/e1/sheets/s1/sheet.pdf' }]);
    const printed: string[] = [];
    const handler = createPrintSheetHandler(service, async (pdf) => (printed.push(pdf), { printed: true, message: 'sent to the printer' }));
    expect(await handler(ownFrame, { experimentId: 'e1', sheetSetId: 's1' })).toEqual({ ok: true, value: { printed: true, message: 'sent to the printer' } });
    expect(printed).toEqual(['/ws/e1/sheets/s1/sheet.pdf']);
    expect(await handler(ownFrame, { experimentId: 'e1', sheetSetId: 's2' })).toEqual({ ok: false, error: { code: 'not-found', message: 'experiment e1 has no sheet set s2' } });
    expect(await handler(ownFrame, { experimentId: 'e1', sheetSetId: 's1', pdfPath: '/etc/passwd' })).toMatchObject({ ok: false, error: { code: 'invalid-input' } });
    expect(await handler({ senderFrame: { url: 'https://evil.example/' } }, { experimentId: 'e1', sheetSetId: 's1' })).toMatchObject({ ok: false });
    expect(printed).toHaveLength(1);
  });

  it("through E1's real service: create an experiment over IPC, then list it", async () => {
    const { createFoolprintService } = await import('../app/node/service.js');
    const service = createFoolprintService({ workspaceDir: tempDirForTest('fp-ipc-'), host: 'electron' });
    try {
      const created = await createIpcHandler('experiments.create', service)(ownFrame, { name: 'via IPC' });
      expect(created).toMatchObject({ ok: true, value: { name: 'via IPC', state: 'ready' } });
      const listed = await createIpcHandler('experiments.list', service)(ownFrame, {});
      expect(listed.ok && (listed.value as { name: string }[]).map((e) => e.name)).toEqual(['via IPC']);
    } finally {
      await service.close();
    }
  });
});

describe('preload bundle (as a sandboxed renderer runs it)', () => {
  it('one CommonJS file that requires only electron and exposes named functions and event subscriptions', async () => {
    const out = path.join(tempDirForTest('fp-preload-'), 'preload.cjs');
    await bundlePreload(projectRoot(), out);
    const code = readFileSync(out, 'utf8');
    expect([...code.matchAll(/require\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1])).toEqual(['electron']);
    expect(code).not.toMatch(/^\s*(import|export)\s/m);
    expect(code).not.toMatch(/ipcRenderer\.(send|sendSync|sendTo|sendToHost|postMessage)\b/);
    expect(new Set(code.match(/(?<=ipcRenderer\.)\w+/g))).toEqual(new Set(['invoke', 'on', 'removeListener']));

    const exposed: Record<string, unknown> = {};
    const invokes: [string, unknown][] = [];
    const listeners = new Map<string, ((event: unknown, payload: unknown) => void)[]>();
    const replies: Record<string, unknown> = {
      [invokeChannel('experiments.list')]: { ok: true, value: [{ id: 'e1' }] },
      [invokeChannel('jobs.get')]: { ok: false, error: { code: 'not-found', message: 'no job j1' } },
    };
    const electron = {
      contextBridge: { exposeInMainWorld: (key: string, value: unknown) => void (exposed[key] = value) },
      ipcRenderer: {
        invoke: async (channel: string, payload: unknown) => (invokes.push([channel, payload]), replies[channel] ?? { ok: true, value: null }),
        on: (channel: string, listener: (event: unknown, payload: unknown) => void) => void listeners.set(channel, [...(listeners.get(channel) ?? []), listener]),
        removeListener: (channel: string, listener: unknown) => void listeners.set(channel, (listeners.get(channel) ?? []).filter((l) => l !== listener)),
        send: () => {
          throw new Error('the preload must not use send');
        },
        sendSync: () => {
          throw new Error('the preload must not use sendSync');
        },
      },
    };
    const sandboxRequire = (name: string) => {
      if (name === 'electron') return electron;
      throw new Error(`module not found: ${name} (sandboxed preloads only get electron)`);
    };
    // A fresh context: no module, exports, process or Node globals, only require (as in the sandbox).
    const context = vm.createContext({ console });
    vm.runInContext(`(function (require) {\n${code}\n})`, context)(sandboxRequire);

    expect(Object.keys(exposed)).toEqual(['foolprint']);
    const api = exposed.foolprint as Record<string, Record<string, (input?: unknown) => Promise<unknown>> & ((handler: unknown) => () => void)>;
    for (const method of API_METHOD_NAMES) {
      const [namespace, name] = method.split('.');
      expect(typeof api[namespace][name], method).toBe('function');
    }
    expect(await api.experiments.list()).toEqual([{ id: 'e1' }]);
    await expect(api.jobs.get({ jobId: 'j1' })).rejects.toThrow(/^no job j1$/);
    await api.host.printSheet({ experimentId: 'e1', sheetSetId: 's1' });
    expect(invokes).toEqual([
      [invokeChannel('experiments.list'), {}],
      [invokeChannel('jobs.get'), { jobId: 'j1' }],
      [PRINT_SHEET_CHANNEL, { experimentId: 'e1', sheetSetId: 's1' }],
    ]);

    for (const event of API_EVENT_NAMES) {
      const subscribe = api[`on${event[0].toUpperCase()}${event.slice(1)}`] as unknown as (handler: (payload: unknown) => void) => () => void;
      const received: unknown[] = [];
      const unsubscribe = subscribe((payload) => received.push(payload));
      for (const listener of listeners.get(eventChannel(event)) ?? []) listener({ sender: 'secret ipcRenderer' }, { jobId: 'j1', done: 1 });
      expect(received, event).toEqual([{ jobId: 'j1', done: 1 }]);
      unsubscribe();
      expect(listeners.get(eventChannel(event))).toEqual([]);
    }
  });
});
