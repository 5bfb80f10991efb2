/**
 * What went wrong with the camera, in one line a researcher can act on. getUserMedia reports failures
 * as DOMException names (W3C Media Capture and Streams, §10.2); we map each to advice. A permission
 * prompt that is never answered never settles the promise at all, so we add our own timeout.
 */
export class CameraError extends Error {
  constructor(
    readonly kind: 'denied' | 'not-found' | 'busy' | 'constraints' | 'timeout' | 'ended' | 'insecure' | 'unknown',
    message: string,
  ) {
    super(message);
    this.name = 'CameraError';
  }
}

/** How long we wait for the browser's permission prompt before telling the user what is going on. */
export const PERMISSION_TIMEOUT_MS = 10_000;

export function describeCameraError(error: unknown): CameraError {
  if (error instanceof CameraError) return error;
  const name = typeof error === 'object' && error !== null && 'name' in error ? String((error as { name: unknown }).name) : '';
  const detail = error instanceof Error ? error.message : String(error);
  switch (name) {
    case 'NotAllowedError':
    case 'PermissionDeniedError':
      return new CameraError('denied', 'Camera access was denied. Allow the camera for this page in the browser (or system) settings, then press Start again.');
    case 'NotFoundError':
    case 'DevicesNotFoundError':
      return new CameraError('not-found', 'No camera was found. Connect a camera, or import photos of the sheet instead.');
    case 'NotReadableError':
    case 'TrackStartError':
    case 'AbortError':
      return new CameraError('busy', 'The camera could not be started: another application may be using it.');
    case 'OverconstrainedError':
    case 'ConstraintNotSatisfiedError':
      return new CameraError('constraints', 'The camera cannot deliver the chosen resolution; pick another one.');
    case 'SecurityError':
      return new CameraError('insecure', 'The camera is only available on a secure page (http://127.0.0.1 or the desktop app).');
    default:
      return new CameraError('unknown', `The camera failed: ${detail || name || 'unknown error'}`);
  }
}

/** Rejects with a CameraError('timeout') when `promise` has not settled within `ms`. */
export function withPermissionTimeout<T>(promise: Promise<T>, ms = PERMISSION_TIMEOUT_MS, onLateResult?: (value: T) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      reject(new CameraError('timeout', `No answer to the camera permission request after ${Math.round(ms / 1000)} s. Answer the browser's prompt (or allow the camera in its settings), then press Start again.`));
    }, ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        // A stream granted after we gave up must still be released, or the camera light stays on.
        if (timedOut) onLateResult?.(value);
        else resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        if (!timedOut) reject(describeCameraError(error));
      },
    );
  });
}

export const CAMERA_ENDED_MESSAGE = 'The camera stopped delivering video (unplugged or taken by another application). Reconnect it and press Start again.';
