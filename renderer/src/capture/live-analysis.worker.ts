/**
 * Marker detection, geometry and rectification for the live view, off the main thread: OpenCV.js's
 * ArUco detector costs ~20 ms per 1280x720 frame, which would make the UI stutter. The crops go back
 * to the screen, which sends them to the host's classifier (capture.classifyCrops).
 *
 * A classic worker that loads the untouched opencv.js with importScripts, the way OpenCV documents
 * for workers: bundled through Vite's CommonJS wrapper it blocked the worker thread for good (measured
 * here: no timer ever fired again), while importScripts of the same file is ready in ~1 s. OpenCV's
 * embind needs 'unsafe-eval', which the server grants to worker scripts only, never to the page.
 */
import opencvUrl from '@techstark/opencv-js/dist/opencv.js?url';
import { analyzePhoto } from '../../../app/physical/analyze.js';
import { loadOpenCV } from '../../../app/physical/opencv.js';
import type { SheetManifest } from '../../../app/physical/sheet-manifest.js';
import type { LiveRequest, LiveResponse } from './live-protocol.js';

let manifests: SheetManifest[] = [];
const post = (message: LiveResponse): void => (self as unknown as { postMessage(m: LiveResponse): void }).postMessage(message);

function loadScript(): unknown {
  importScripts(opencvUrl);
  return (self as unknown as { cv?: unknown }).cv;
}

const opencv = loadOpenCV(loadScript);
opencv.then(
  () => post({ type: 'ready' }),
  (error: unknown) => post({ type: 'error', frameId: null, message: error instanceof Error ? error.message : String(error) }),
);

self.onmessage = async (event: MessageEvent<LiveRequest>) => {
  const request = event.data;
  if (request.type === 'manifests') {
    manifests = request.manifests;
    return;
  }
  const started = performance.now();
  try {
    const runtime = await opencv;
    const photo = { data: new Uint8ClampedArray(request.pixels), width: request.width, height: request.height };
    const analysis = await analyzePhoto(photo, manifests, undefined, { opencv: runtime, inputShape: request.inputShape, keepCrops: true });
    post({ type: 'analysis', frameId: request.frameId, analysis, workerMs: performance.now() - started });
  } catch (error) {
    post({ type: 'error', frameId: request.frameId, message: error instanceof Error ? error.message : String(error) });
  }
};
