import { describe, expect, it } from 'vitest';
import { API_METHOD_NAMES, ApiError, apiMethods, awaitJob, createApiClient, createSseParser, describeZodError, toApiError } from '../app/api/index.js';
import type { ApiTransport, FoolprintApi } from '../app/api/index.js';

/** A transport that records calls and lets the test push events, to check the client's plumbing. */
function recordingTransport(answer: (method: string, input: unknown) => unknown) {
  const calls: [string, unknown][] = [];
  const handlers = new Map<string, Set<(p: unknown) => void>>();
  const transport: ApiTransport = {
    async invoke(method, input) {
      calls.push([method, input]);
      return answer(method, input);
    },
    subscribe(event, handler) {
      if (!handlers.has(event)) handlers.set(event, new Set());
      handlers.get(event)!.add(handler);
      return () => handlers.get(event)!.delete(handler);
    },
  };
  const emit = (event: string, payload: unknown) => handlers.get(event)?.forEach((h) => h(payload));
  return { transport, calls, emit, handlers };
}

describe('API contract', () => {
  it('names every method namespace.name and gives each an input and output schema', () => {
    expect(API_METHOD_NAMES.length).toBeGreaterThan(20);
    for (const name of API_METHOD_NAMES) {
      expect(name).toMatch(/^[a-z]+\.[a-zA-Z]+$/);
      expect(typeof apiMethods[name].input.safeParse).toBe('function');
      expect(typeof apiMethods[name].output.safeParse).toBe('function');
    }
  });

  it('rejects bad payloads with a message naming the field', () => {
    const parsed = apiMethods['attacks.start'].input.safeParse({
      experimentId: 'e1', modelId: 'lenet-mnist', images: { kind: 'samples' }, params: { method: 'fgsm', epsilons: [0.1, 2] },
    });
    expect(parsed.success).toBe(false);
    expect(describeZodError(parsed.error!, 'attacks.start input')).toMatch(/^invalid attacks.start input: params\.epsilons\.1: /);
    expect(apiMethods['experiments.get'].input.safeParse({ experimentId: '../etc' }).success).toBe(false);
  });

  it('builds a typed object whose calls go through the transport with their method name', async () => {
    const { transport, calls } = recordingTransport((method) => (method === 'models.list' ? [] : { cancelled: true }));
    const api: FoolprintApi = createApiClient(transport);
    await expect(api.models.list()).resolves.toEqual([]);
    await expect(api.jobs.cancel({ jobId: 'j1' })).resolves.toEqual({ cancelled: true });
    expect(calls).toEqual([['models.list', {}], ['jobs.cancel', { jobId: 'j1' }]]);
    for (const name of API_METHOD_NAMES) {
      const [ns, fn] = name.split('.');
      expect(typeof (api as unknown as Record<string, Record<string, unknown>>)[ns][fn]).toBe('function');
    }
  });

  it('turns transport failures into ApiError with their code', async () => {
    const { transport } = recordingTransport(() => {
      throw new Error("Error invoking remote method 'models.list': ApiError[not-found]: no model \"x\"");
    });
    const error = await createApiClient(transport).models.list().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).code).toBe('not-found');
    expect((error as ApiError).message).toBe('no model "x"');
    expect(toApiError({ error: { code: 'invalid-input', message: 'm' } }).code).toBe('invalid-input');
  });

  it('awaitJob resolves on onJobFinished and rejects a cancelled job; it sees a job that ended before it subscribed', async () => {
    const run = { runId: 'r1', experimentId: 'e1', modelId: 'm', method: 'fgsm', options: {}, epsilons: [0.1], count: 1, createdAt: 'now', cleanAccuracy: 1, perEpsilon: [], durationMs: 1 };
    let status = 'running';
    const rec = recordingTransport((method) =>
      method === 'jobs.get' ? { jobId: 'j1', kind: 'attack', status, label: '', done: 0, total: 1, startedAt: '', finishedAt: null, error: status === 'cancelled' ? 'cancelled' : null, result: status === 'succeeded' ? run : undefined } : null,
    );
    const api = createApiClient(rec.transport);
    const progress: number[] = [];
    const pending = awaitJob(api, 'j1', 'attack', (p) => progress.push(p.done));
    await new Promise((r) => setTimeout(r, 5));
    rec.emit('progress', { jobId: 'j1', done: 1, total: 2, label: 'x' });
    rec.emit('progress', { jobId: 'other', done: 9, total: 9, label: 'x' });
    rec.emit('jobFinished', { jobId: 'j1', kind: 'attack', status: 'succeeded', error: null, result: run });
    await expect(pending).resolves.toMatchObject({ runId: 'r1' });
    expect(progress).toEqual([1]);
    expect([...rec.handlers.values()].every((s) => s.size === 0)).toBe(true);
    status = 'cancelled';
    await expect(awaitJob(api, 'j1', 'attack')).rejects.toMatchObject({ code: 'cancelled' });
  });

  it('parses Server-Sent Events split across chunks', () => {
    const events: [string, string][] = [];
    const parse = createSseParser((e, d) => events.push([e, d]));
    parse(': hello\n\nevent: progress\ndata: {"a"');
    parse(':1}\n\nevent: jobFinished\r\ndata: x\r\ndata: y\r\n\r\n');
    expect(events).toEqual([['progress', '{"a":1}'], ['jobFinished', 'x\ny']]);
  });
});
