/**
 * FOOLPRINT_TRACE=1: one line on stderr per start-up milestone, in milliseconds since the process
 * started (a worker thread's performance clock starts with the process too), from every thread,
 * with the CPU the whole process has used so far. Kept so the next start-up regression is found with
 * a timeline rather than guessed (issue 12: where the 1.4 s before the first batch went).
 */
import { isMainThread, threadId } from 'node:worker_threads';

const enabled = process.env.FOOLPRINT_TRACE === '1';

export function traceStartup(milestone: string): void {
  if (!enabled) return;
  const cpu = process.cpuUsage();
  process.stderr.write(`trace ${performance.now().toFixed(0).padStart(5)} ms  ${isMainThread ? 'main' : `worker ${threadId}`}: ${milestone} (process cpu ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms)\n`);
}

// A worker's first module to run: after Node started the thread and read and parsed its scripts.
// Once per thread: a bundled worker's boot (code-cache.ts) and its bundle each carry this module.
const marked = Symbol.for('foolprint:scripts-loaded');
if (!isMainThread && !(globalThis as Record<symbol, unknown>)[marked]) {
  (globalThis as Record<symbol, unknown>)[marked] = true;
  traceStartup('scripts loaded');
}
