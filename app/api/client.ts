/**
 * The typed API object the renderer talks to, whatever the host: Electron's preload and the
 * browser-mode HTTP client only provide a two-function transport; everything typed lives here.
 */
import { API_METHOD_NAMES, jobResultSchemas } from './methods.js';
import type { ApiInput, ApiMethodName, ApiOutput, JobResult } from './methods.js';
import { API_EVENT_NAMES } from './events.js';
import type { ApiEventName, ApiEventPayload } from './events.js';
import { ApiError, toApiError } from './errors.js';
import type { JobKind } from './system.js';

export interface ApiTransport {
  invoke(method: ApiMethodName, input: unknown): Promise<unknown>;
  /** Returns the unsubscribe function. */
  subscribe(event: ApiEventName, handler: (payload: unknown) => void): () => void;
}

type Namespace<M extends string> = M extends `${infer N}.${string}` ? N : never;
type MethodCall<M extends ApiMethodName> = undefined extends ApiInput<M>
  ? (input?: ApiInput<M>) => Promise<ApiOutput<M>>
  : (input: ApiInput<M>) => Promise<ApiOutput<M>>;

type ApiNamespaces = {
  [N in Namespace<ApiMethodName>]: { [M in ApiMethodName as M extends `${N}.${infer F}` ? F : never]: MethodCall<M> };
};

type ApiEventHandlers = {
  [E in ApiEventName as `on${Capitalize<E>}`]: (handler: (payload: ApiEventPayload<E>) => void) => () => void;
};

/** e.g. `api.models.list()`, `api.attacks.start({...})`, `api.onProgress(p => ...)`. */
export type FoolprintApi = ApiNamespaces & ApiEventHandlers;

export function createApiClient(transport: ApiTransport): FoolprintApi {
  const api: Record<string, unknown> = {};
  for (const method of API_METHOD_NAMES) {
    const [namespace, name] = method.split('.');
    const group = (api[namespace] ??= {}) as Record<string, unknown>;
    group[name] = async (input?: unknown) => {
      try {
        return await transport.invoke(method, input ?? {});
      } catch (error) {
        throw toApiError(error);
      }
    };
  }
  const on = (event: ApiEventName) => (handler: (payload: unknown) => void) => transport.subscribe(event, handler);
  // onProgress, onJobFinished, onFrameAnalyzed, onTrainingEpoch: one per event of the contract.
  for (const event of API_EVENT_NAMES) api[`on${event[0].toUpperCase()}${event.slice(1)}`] = on(event);
  return api as FoolprintApi;
}

/**
 * Waits for a job to end and returns its result (typed by kind), rejecting with an ApiError when it
 * failed or was cancelled. Subscribes before asking for the job's state, so a job that finished
 * before the call is not missed.
 */
export async function awaitJob<K extends JobKind>(
  api: FoolprintApi,
  jobId: string,
  kind: K,
  onProgress?: (p: ApiEventPayload<'progress'>) => void,
  pollMs = 2000,
): Promise<JobResult<K>> {
  const finish = (status: string, error: string | null, result: unknown): JobResult<K> => {
    if (status === 'succeeded') return jobResultSchemas[kind].parse(result) as JobResult<K>;
    throw new ApiError(status === 'cancelled' ? 'cancelled' : 'failed', error ?? `job ${jobId} ${status}`);
  };
  const unsubscribers: (() => void)[] = [];
  try {
    return await new Promise<JobResult<K>>((resolve, reject) => {
      const settle = (status: string, error: string | null, result: unknown) => {
        try {
          resolve(finish(status, error, result));
        } catch (e) {
          reject(e as Error);
        }
      };
      unsubscribers.push(api.onJobFinished((e) => { if (e.jobId === jobId) settle(e.status, e.error, e.result); }));
      if (onProgress) unsubscribers.push(api.onProgress((p) => { if (p.jobId === jobId) onProgress(p); }));
      const check = () =>
        api.jobs.get({ jobId }).then((job) => {
          if (job.kind !== kind) reject(new ApiError('invalid-input', `job ${jobId} is a ${job.kind} job, not ${kind}`));
          else if (job.status !== 'running') settle(job.status, job.error, job.result);
        }, reject);
      void check();
      // An event stream that was still connecting when the job ended drops its event: ask again now and then.
      const poll = setInterval(() => void check(), pollMs);
      unsubscribers.push(() => clearInterval(poll));
    });
  } finally {
    for (const unsubscribe of unsubscribers) unsubscribe();
  }
}
