/** Messages between the Capture screen and its analysis worker (plain data, buffers transferred). */
import type { PhotoAnalysis } from '../../../app/physical/analyze.js';
import type { SheetManifest } from '../../../app/physical/sheet-manifest.js';

export type LiveRequest =
  | { type: 'manifests'; manifests: SheetManifest[] }
  | { type: 'frame'; frameId: number; width: number; height: number; pixels: ArrayBuffer; inputShape: [number, number, number] };

export type LiveResponse =
  | { type: 'ready' }
  | { type: 'analysis'; frameId: number; analysis: PhotoAnalysis; workerMs: number }
  | { type: 'error'; frameId: number | null; message: string };
