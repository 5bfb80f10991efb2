/**
 * Runs a CommonJS bundle (a bundled worker, scripts/bundle-workers.ts) with a V8 code cache, so a
 * worker does not parse and compile its 2 MB of TF.js again on every start (issue 12, start-up).
 * Node 20 has no module.enableCompileCache (Node 22), and V8 takes cached code only for a vm.Script:
 * the bundle is run as Node runs a CommonJS file, through a vm.Script given the cache.
 *
 * The cache is written beside the bundle after the worker's first start (markWorkerWarm: once the
 * model is loaded, so the code that start ran is in it), atomically, and only by a start that had
 * none or had one V8 refused. It is never trusted blindly: V8 checks only the source's length, its
 * own version and flags, so the file carries a SHA-256 of the bundle, this runtime's versions and
 * its own payload; a file that fails any check (stale, truncated, corrupt, from another build or
 * runtime) is ignored and replaced. Where the folder is read-only the worker runs uncached.
 *
 * A bundle run here has no import(): Node 20 gives a vm.Script one only behind a flag (or with an
 * ExperimentalWarning on stderr, vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER).
 */
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { threadId } from 'node:worker_threads';
import { traceStartup } from './startup-trace.js';

/** The event a worker emits on `process` once its start-up code has run (its model loaded). */
export const WORKER_WARM_EVENT = 'foolprint:worker-warm';

/**
 * Called by a worker once it has started, before it says it is ready: the code cache, if one is to be
 * written, is written then (after 'ready', a pool closed at once would stop the thread mid-write).
 */
export function markWorkerWarm(): void {
  process.emit(WORKER_WARM_EVENT as never);
}

const MAGIC = Buffer.from('FPV8CC01');
const HASH = 32;
const HEADER = MAGIC.length + 2 * HASH;

/** What the cached code belongs to: the bundle's text (its UTF-8 bytes, or the string) and the runtime that compiled it. */
export function codeCacheKey(source: string | Uint8Array): Buffer {
  return createHash('sha256').update(`${process.version}\0${process.versions.v8}\0${process.arch}\0`).update(source).digest();
}

/** The cache file for a bundle on this runtime (Node and Electron keep one each; V8 refuses the other's). */
export function codeCacheFile(bundle: string): string {
  return `${bundle}.${process.arch}-v8-${process.versions.v8}.cache`;
}

/** The cached code in `file` if it is whole and belongs to `key`, else undefined. */
export function readCodeCache(file: string, key: Buffer): Buffer | undefined {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch {
    return undefined;
  }
  if (data.length <= HEADER || !data.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  if (!data.subarray(MAGIC.length, MAGIC.length + HASH).equals(key)) return undefined;
  const payload = data.subarray(HEADER);
  // V8 does not checksum cached code in release builds: a damaged payload must never reach it.
  if (!createHash('sha256').update(payload).digest().equals(data.subarray(MAGIC.length + HASH, HEADER))) return undefined;
  return payload;
}

/** Writes the cache atomically (temp file, rename); false where it cannot (read-only folder, full disk). */
export function writeCodeCache(file: string, key: Buffer, payload: Buffer): boolean {
  const temp = `${file}.${process.pid}-${threadId}.tmp`;
  try {
    writeFileSync(temp, Buffer.concat([MAGIC, key, createHash('sha256').update(payload).digest(), payload]));
    renameSync(temp, file);
    return true;
  } catch {
    rmSync(temp, { force: true });
    return false;
  }
}

export interface CachedRun {
  /** Whether V8 took the cached code (false: there was none, or it was refused or damaged). */
  cacheUsed: boolean;
}

/**
 * Runs the CommonJS file `bundle` on this thread as Node would (its own require, module, __filename,
 * __dirname; strict, as the ES modules it was built from), compiled from the code cache where there
 * is a good one. Without one, the cache is written when the code emits WORKER_WARM_EVENT.
 */
export function runWithCodeCache(bundle: URL | string): CachedRun {
  const file = typeof bundle === 'string' ? bundle : fileURLToPath(bundle);
  // The file's bytes are hashed, not the decoded text, which hash() would encode back to UTF-8
  // first: the same key, ~5 ms of CPU less per worker for the 2 MB compute worker.
  const bytes = readFileSync(file);
  const key = codeCacheKey(bytes);
  const source = bytes.toString('utf8');
  const cacheFile = codeCacheFile(file);
  const cachedData = readCodeCache(cacheFile, key);
  // Wrapped on the source's first line, so line numbers in stack traces stay the bundle's.
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {'use strict';${source}\n})`, {
    filename: file,
    cachedData,
  });
  const cacheUsed = cachedData !== undefined && !script.cachedDataRejected;
  traceStartup(`bundle compiled (${cacheUsed ? 'code cache used' : cachedData ? 'code cache refused by V8' : 'no code cache'})`);
  if (!cacheUsed) process.once(WORKER_WARM_EVENT, () => writeCodeCache(cacheFile, key, script.createCachedData()));
  const module = { exports: {} };
  const run = script.runInThisContext() as (exports: object, require: NodeJS.Require, module: object, filename: string, dirname: string) => void;
  run.call(module.exports, module.exports, createRequire(file), module, file, path.dirname(file));
  return { cacheUsed };
}
