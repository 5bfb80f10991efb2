import { z } from 'zod';

/**
 * Why a call failed, in a form every transport carries: 'invalid-input' (a schema rejected the
 * payload; the message names the field), 'not-found' (no such experiment, run, job...),
 * 'not-available' (a feature the core does not provide yet), 'cancelled', 'failed' (anything else;
 * the message is one line for people).
 */
export const apiErrorCodeSchema = z.enum(['invalid-input', 'not-found', 'not-available', 'cancelled', 'failed']);
export type ApiErrorCode = z.infer<typeof apiErrorCodeSchema>;

export const apiErrorBodySchema = z.object({ error: z.object({ code: apiErrorCodeSchema, message: z.string() }) });

export class ApiError extends Error {
  readonly code: ApiErrorCode;
  constructor(code: ApiErrorCode, message: string) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
  }
}

/**
 * "field.path: message" for the first issue, e.g. `params.epsilons.0: Too big: expected number to be <=1`:
 * for our own bugs (an output that breaks the contract). What a user typed is described in plain
 * words by describeInvalidInput (invalid-input.ts).
 */
export function describeZodError(error: z.ZodError, what: string): string {
  const issue = error.issues[0];
  const where = issue.path.length > 0 ? issue.path.join('.') : '(input)';
  return `invalid ${what}: ${where}: ${issue.message}`;
}

/** Turns anything a transport caught back into an ApiError (Electron IPC strips custom classes). */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  const body = apiErrorBodySchema.safeParse(error);
  if (body.success) return new ApiError(body.data.error.code, body.data.error.message);
  const message = error instanceof Error ? error.message : String(error);
  // Electron prefixes rejected invoke() messages: "Error invoking remote method 'x': ApiError[code]: message".
  const tagged = /ApiError\[([a-z-]+)\]: (.*)$/s.exec(message);
  if (tagged && apiErrorCodeSchema.safeParse(tagged[1]).success) return new ApiError(tagged[1] as ApiErrorCode, tagged[2]);
  return new ApiError('failed', message);
}
