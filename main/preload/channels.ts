/**
 * The IPC wire between preload and main, shared by both sides (pure: no Electron, no Node). One
 * invoke channel per API method, one event channel per API event, and one host-only channel for
 * printing; replies are envelopes so an error's code survives (Electron's invoke keeps only a
 * prefixed message of a thrown error).
 */
import type { ApiErrorCode } from '../../app/api/errors.js';

export const invokeChannel = (method: string): string => `foolprint:call:${method}`;
export const eventChannel = (event: string): string => `foolprint:event:${event}`;
/** Electron only: print an exported sheet PDF with the system print dialog. */
export const PRINT_SHEET_CHANNEL = 'foolprint:host:printSheet';

export type IpcReply = { ok: true; value: unknown } | { ok: false; error: { code: ApiErrorCode; message: string } };
