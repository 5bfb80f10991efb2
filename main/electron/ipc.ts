/**
 * The main side of the IPC bridge, without importing Electron (tests pass fake events and a fake
 * ipcMain): one handler per API method, each checking that the call comes from our own page's frame
 * and validating the payload with the contract's zod schema before the service sees it.
 */
import { z } from 'zod';
import { apiMethods, API_METHOD_NAMES } from '../../app/api/methods.js';
import type { ApiMethodName } from '../../app/api/methods.js';
import { ApiError, toApiError } from '../../app/api/errors.js';
import { describeInvalidInput } from '../../app/api/invalid-input.js';
import { idSchema } from '../../app/api/common.js';
import { invokeChannel, PRINT_SHEET_CHANNEL } from '../preload/channels.js';
import type { IpcReply } from '../preload/channels.js';
import { isOwnPageUrl } from './security.js';

/** What a handler reads of Electron's IpcMainInvokeEvent. */
export interface IpcCallEvent {
  senderFrame: { url: string } | null;
}

/** The service as the host sees it: one call by method name (E1's service, in-process). */
export interface HostService {
  invoke(method: ApiMethodName, input: unknown): Promise<unknown>;
}

/** The part of ipcMain the host uses. */
export interface IpcMainLike {
  handle(channel: string, listener: (event: IpcCallEvent, ...args: unknown[]) => Promise<unknown>): void;
  removeHandler(channel: string): void;
}

export type SenderCheck = (event: IpcCallEvent) => boolean;

/** Only frames showing our own page may call (not a navigated-away frame, not an iframe of elsewhere). */
export const ownPageSender: SenderCheck = (event) => isOwnPageUrl(event.senderFrame?.url);

function refusedSender(event: IpcCallEvent): IpcReply {
  return { ok: false, error: { code: 'failed', message: `refused: the call came from ${event.senderFrame?.url || 'an unknown frame'}, not from Foolprint's own page` } };
}

function failure(error: unknown): IpcReply {
  const apiError = toApiError(error);
  return { ok: false, error: { code: apiError.code, message: apiError.message.split('\n')[0] } };
}

export function createIpcHandler(method: ApiMethodName, service: HostService, isTrustedSender: SenderCheck = ownPageSender): (event: IpcCallEvent, payload?: unknown) => Promise<IpcReply> {
  const schema = apiMethods[method].input as z.ZodType;
  return async (event, payload) => {
    if (!isTrustedSender(event)) return refusedSender(event);
    const parsed = schema.safeParse(payload);
    if (!parsed.success) return { ok: false, error: { code: 'invalid-input', message: describeInvalidInput(parsed.error, { input: payload }) } };
    try {
      return { ok: true, value: await service.invoke(method, parsed.data) };
    } catch (error) {
      return failure(error);
    }
  };
}

export const printSheetInputSchema = z.object({ experimentId: idSchema, sheetSetId: idSchema }).strict();

/**
 * Print an exported sheet set: the PDF path comes from the service's own list (the renderer names a
 * sheet set, never a file path), then `print` shows the system print dialog.
 */
export function createPrintSheetHandler(service: HostService, print: (pdfPath: string) => Promise<{ printed: boolean; message: string }>, isTrustedSender: SenderCheck = ownPageSender): (event: IpcCallEvent, payload?: unknown) => Promise<IpcReply> {
  return async (event, payload) => {
    if (!isTrustedSender(event)) return refusedSender(event);
    const parsed = printSheetInputSchema.safeParse(payload);
    if (!parsed.success) return { ok: false, error: { code: 'invalid-input', message: describeInvalidInput(parsed.error, { input: payload }) } };
    try {
      const sets = (await service.invoke('sheets.list', { experimentId: parsed.data.experimentId })) as { sheetSetId: string; pdfPath: string }[];
      const set = sets.find((s) => s.sheetSetId === parsed.data.sheetSetId);
      if (!set) throw new ApiError('not-found', `experiment ${parsed.data.experimentId} has no sheet set ${parsed.data.sheetSetId}`);
      return { ok: true, value: await print(set.pdfPath) };
    } catch (error) {
      return failure(error);
    }
  };
}

/** Register every API method (and printing, when given) on ipcMain; returns the function that removes them. */
export function registerIpcHandlers(ipcMain: IpcMainLike, service: HostService, options: { print?: (pdfPath: string) => Promise<{ printed: boolean; message: string }>; isTrustedSender?: SenderCheck } = {}): () => void {
  const channels: string[] = [];
  for (const method of API_METHOD_NAMES) {
    const channel = invokeChannel(method);
    ipcMain.handle(channel, createIpcHandler(method, service, options.isTrustedSender) as (event: IpcCallEvent, ...args: unknown[]) => Promise<unknown>);
    channels.push(channel);
  }
  if (options.print) {
    ipcMain.handle(PRINT_SHEET_CHANNEL, createPrintSheetHandler(service, options.print, options.isTrustedSender) as (event: IpcCallEvent, ...args: unknown[]) => Promise<unknown>);
    channels.push(PRINT_SHEET_CHANNEL);
  }
  return () => {
    for (const channel of channels) ipcMain.removeHandler(channel);
  };
}
