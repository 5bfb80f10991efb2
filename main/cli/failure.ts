/**
 * How the CLI ends on bad input: one line on stderr, a non-zero exit, never a stack trace
 * (unless FOOLPRINT_DEBUG is set, for us).
 */
import { CancelledError } from '../../app/attacks/types.js';
import type { PreparedOutputFolder } from '../../app/node/output-folder.js';

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
/** 128 + SIGINT, as shells report an interrupted program. */
export const EXIT_CANCELLED = 130;

export function reportFailure(error: unknown): number {
  if (error instanceof CancelledError) {
    process.stderr.write('foolprint: cancelled\n');
    return EXIT_CANCELLED;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`foolprint: ${message.split('\n')[0]}\n`);
  if (process.env.FOOLPRINT_DEBUG && error instanceof Error && error.stack) process.stderr.write(error.stack + '\n');
  return error instanceof UsageError ? EXIT_USAGE : EXIT_FAILURE;
}

/**
 * An AbortSignal that fires on the first Ctrl-C; a second Ctrl-C exits at once. Take it on a command's
 * first line, before anything is printed: whoever acts on the output may press Ctrl-C at once, and until
 * this handler is installed Node's default kills the process (exit code null, half-done work left).
 */
export function interruptSignal(): AbortSignal {
  const controller = new AbortController();
  process.once('SIGINT', () => {
    controller.abort();
    process.once('SIGINT', () => process.exit(EXIT_CANCELLED));
  });
  return controller.signal;
}

export function parseNumberList(text: string, what: string): number[] {
  const values = text.split(',').map((part) => part.trim()).filter((part) => part.length > 0).map(parseEpsilon);
  if (values.length === 0 || values.some((v) => !Number.isFinite(v) || v < 0)) {
    throw new UsageError(`${what} must be a comma list of non-negative numbers (e.g. 0,0.05,0.1 or 8/255), got "${text}"`);
  }
  return values;
}

/**
 * A decimal number as people write it: 12, 0.5, .5, 1e-3. Number() alone also takes "0x10", "0b1",
 * "Infinity" and "" (0), which nobody means as an ε or a step count.
 */
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

function decimal(text: string): number {
  return DECIMAL.test(text) ? Number(text) : NaN;
}

/** ε is written in [0,1] units or as pixel levels "8/255". */
function parseEpsilon(text: string): number {
  const fraction = /^([^/]+)\/([^/]+)$/.exec(text);
  if (fraction) return decimal(fraction[1].trim()) / decimal(fraction[2].trim());
  return decimal(text);
}

export function parseDecimal(text: string, what: string): number {
  const value = decimal(text.trim());
  if (!Number.isFinite(value)) throw new UsageError(`${what} must be a number, got "${text}"`);
  return value;
}

/** ε values: [0,1] pixel units, or levels written "8/255". */
export function parseEpsilonList(text: string, what: string): number[] {
  const values = parseNumberList(text, what);
  const tooBig = values.find((v) => v > 1);
  if (tooBig !== undefined) throw new UsageError(`${what} must be at most 1, got ${tooBig} (ε is in [0,1] pixel units: 8 levels is 8/255 ≈ 0.031)`);
  return values;
}

export function parsePositiveInt(text: string, what: string): number {
  const value = decimal(text.trim());
  if (!Number.isInteger(value) || value <= 0) throw new UsageError(`${what} must be a positive whole number, got "${text}"`);
  return value;
}

/** Wraps a command's action: any error becomes one line and an exit code. */
export function guarded<A extends unknown[]>(action: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await action(...args);
    } catch (error) {
      process.exitCode = reportFailure(error);
    }
  };
}

/** A command's --out folder (app/node/output-folder.ts), checked up front; a folder it may not replace is a usage error. */
export async function prepareCliOutput(out: string, command: string, force = false): Promise<PreparedOutputFolder> {
  // Imported here: this module is loaded by every command, and the folder code brings node:crypto,
  // ~10 ms of the main thread before a sweep's workers are started (issue 12, start-up).
  const { OutputFolderError, prepareOutputFolder } = await import('../../app/node/output-folder.js');
  try {
    return await prepareOutputFolder(out, { command, force });
  } catch (error) {
    if (error instanceof OutputFolderError) throw new UsageError(error.message);
    throw error;
  }
}
