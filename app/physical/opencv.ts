/**
 * Loads OpenCV.js (@techstark/opencv-js, pinned 4.12.0-release.1: the npm `latest` 4.5.2 has no
 * ArUco) once per process, in Node and in the browser alike.
 *
 * Two traps: the emscripten module object is a thenable, so awaiting it (or resolving a promise
 * with it) hangs; and it is usable only after `onRuntimeInitialized`. We therefore wait for that
 * callback ourselves and hand out the module wrapped in a plain object. OpenCV.js has no garbage
 * collection for cv.Mat: every Mat we create is deleted in a `finally`.
 */

/** The OpenCV.js module. Its bundled typings lack the aruco_* classes we use, so it is loosely typed. */
export type OpenCV = Record<string, any>;

export interface OpenCVRuntime {
  readonly cv: OpenCV;
}

export class OpenCVLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OpenCVLoadError';
  }
}

const LOAD_TIMEOUT_MS = 60_000;
let loading: Promise<OpenCVRuntime> | undefined;

/**
 * The OpenCV runtime, loaded on first call. `importModule` says how to get the module object: by
 * default `require` where Node offers it and a dynamic import elsewhere (Vitest's module runner stalls
 * on an import() of the 10 MB file; opencv.node.ts passes `require` explicitly).
 */
export function loadOpenCV(importModule: () => unknown = defaultImport): Promise<OpenCVRuntime> {
  loading ??= initialise(importModule).catch((error: unknown) => {
    loading = undefined;
    throw error instanceof OpenCVLoadError ? error : new OpenCVLoadError(`OpenCV.js failed to load: ${error instanceof Error ? error.message : String(error)}`);
  });
  return loading;
}

/**
 * Node (≥ 20.16, also Electron's main process) has process.getBuiltinModule, which gives us `require`
 * without a node: import in this pure module; browsers and workers take the dynamic import.
 */
function defaultImport(): unknown {
  const getBuiltinModule = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule;
  if (typeof getBuiltinModule === 'function') {
    const { createRequire } = getBuiltinModule('module') as { createRequire: (from: string) => (id: string) => unknown };
    return createRequire(import.meta.url)('@techstark/opencv-js');
  }
  return import('@techstark/opencv-js');
}

async function initialise(importModule: () => unknown): Promise<OpenCVRuntime> {
  // Never await the module itself (a thenable): only a real Promise from import() is awaited, and its
  // value is wrapped in an object on the way out.
  const processEvents = nodeProcessEvents();
  const before = processEvents?.snapshot();
  const raw = importModule();
  const imported = (raw instanceof Promise ? (await raw.then((module: unknown) => ({ module }))).module : raw) as { default?: OpenCV } | undefined;
  if (before) processEvents?.restore(before);
  if (!imported) throw new OpenCVLoadError('OpenCV.js module is empty');
  const cv = (typeof imported.default === 'object' && imported.default !== null ? imported.default : imported) as OpenCV;
  await new Promise<void>((resolve, reject) => {
    if (typeof cv.Mat === 'function') return resolve();
    const timer = setTimeout(() => reject(new OpenCVLoadError(`OpenCV.js did not initialise within ${LOAD_TIMEOUT_MS / 1000} s`)), LOAD_TIMEOUT_MS);
    const previous = cv.onRuntimeInitialized as (() => void) | undefined;
    cv.onRuntimeInitialized = () => {
      clearTimeout(timer);
      previous?.();
      resolve();
    };
  });
  if (typeof cv.aruco_ArucoDetector !== 'function' || typeof cv.findHomography !== 'function') {
    throw new OpenCVLoadError('this OpenCV.js build has no ArUco detector; install @techstark/opencv-js 4.12.0-release.1');
  }
  return { cv };
}

type Listener = (...args: unknown[]) => void;
interface ProcessLike {
  listeners(event: string): Listener[];
  removeListener(event: string, listener: Listener): void;
}

/**
 * Under Node, emscripten's glue installs process-wide handlers: 'uncaughtException' rethrows (so any
 * later crash prints the 10 MB minified source line of opencv.js) and 'unhandledRejection' aborts the
 * WebAssembly runtime. We take them out again right after loading; no-op in browsers.
 */
function nodeProcessEvents(): { snapshot(): Map<string, Listener[]>; restore(before: Map<string, Listener[]>): void } | undefined {
  const proc = (globalThis as { process?: ProcessLike }).process;
  if (!proc || typeof proc.listeners !== 'function') return undefined;
  const events = ['uncaughtException', 'unhandledRejection'];
  return {
    snapshot: () => new Map(events.map((event) => [event, proc.listeners(event)])),
    restore: (before) => {
      for (const event of events) {
        for (const listener of proc.listeners(event)) if (!before.get(event)?.includes(listener)) proc.removeListener(event, listener);
      }
    },
  };
}

/** Runs `body` and deletes every Mat/MatVector it registered, also when it throws. */
export function withMats<T>(body: (keep: <M extends { delete(): void }>(mat: M) => M) => T): T {
  const owned: { delete(): void }[] = [];
  try {
    return body((mat) => {
      owned.push(mat);
      return mat;
    });
  } finally {
    for (const mat of owned.reverse()) {
      try {
        mat.delete();
      } catch {
        // already deleted: nothing to free
      }
    }
  }
}
