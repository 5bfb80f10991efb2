/**
 * The Capture screen: the camera, the live analysis loop (frame → worker: markers, geometry, crops →
 * host: classifyCrops → overlay), stills and imported photos (analysed and stored by the host).
 */
import type { CaptureInfo } from '../../../app/api/capture.js';
import type { PhotoAnalysis } from '../../../app/physical/analyze.js';
import type { SheetManifest } from '../../../app/physical/sheet-manifest.js';
import { errorMessage } from '../api.js';
import { bytesToBase64, float32ToBase64 } from '../base64.js';
import { CAMERA_ENDED_MESSAGE, describeCameraError, withPermissionTimeout } from '../capture/camera-errors.js';
import { concatenateCrops, framesPerSecond, liveCells } from '../capture/live-cells.js';
import type { LiveCell } from '../capture/live-cells.js';
import type { LiveRequest, LiveResponse } from '../capture/live-protocol.js';
import { JobProgress } from './job.svelte.js';
import type { Session } from './session.svelte.js';

export const RESOLUTIONS = ['640x480', '1280x720', '1920x1080'] as const;

export class CaptureController {
  readonly job: JobProgress;
  devices = $state.raw<{ deviceId: string; label: string }[]>([]);
  deviceId = $state('');
  resolution = $state<(typeof RESOLUTIONS)[number]>('1280x720');
  stream = $state.raw<MediaStream | null>(null);
  starting = $state(false);
  cameraError = $state<string | null>(null);
  manifests = $state.raw<SheetManifest[]>([]);
  analysis = $state.raw<PhotoAnalysis | null>(null);
  cells = $state.raw<LiveCell[]>([]);
  fps = $state<number | null>(null);
  liveError = $state<string | null>(null);
  captures = $state.raw<CaptureInfo[]>([]);
  lastCapture = $state.raw<CaptureInfo | null>(null);
  /** The analysis worker: OpenCV.js takes a few seconds to compile its wasm on first use. */
  detector = $state<'idle' | 'loading' | 'ready' | 'failed'>('idle');
  /** Frame size actually delivered by the camera. */
  frameSize = $state<{ width: number; height: number } | null>(null);

  /**
   * The experiment's sheets in print order, each with how many stills or photos found it: what is still
   * to be photographed ("hold up sheet 2 of 3").
   */
  readonly sheets = $derived(
    [...this.manifests]
      .sort((a, b) => a.sheetNumber - b.sheetNumber)
      .map((manifest, i) => ({
        sheetId: manifest.sheetId,
        number: i + 1,
        photographed: this.captures.filter((c) => c.sheetId === manifest.sheetId && (c.status === 'ok' || c.status === 'partial')).length,
      })),
  );
  readonly nextSheet = $derived(this.sheets.find((sheet) => sheet.photographed === 0) ?? null);
  /** The sheet the live view recognises, numbered as in `sheets`. */
  readonly liveSheet = $derived(this.analysis?.sheetId ? (this.sheets.find((sheet) => sheet.sheetId === this.analysis?.sheetId) ?? null) : null);

  private worker: Worker | null = null;
  private video: HTMLVideoElement | null = null;
  private canvas: HTMLCanvasElement | null = null;
  private frameId = 0;
  private busy = false;
  private timestamps: number[] = [];
  private pending = new Map<number, (response: LiveResponse) => void>();

  constructor(private readonly session: Session) {
    this.job = new JobProgress(session.api);
  }

  async load(): Promise<void> {
    const experimentId = this.session.experimentId;
    if (!experimentId) return;
    const [manifests, captures] = (await this.session.guard(() => Promise.all([this.session.api.capture.manifests({ experimentId }), this.session.api.capture.list({ experimentId })]))) ?? [[], []];
    this.manifests = manifests;
    this.captures = captures;
    this.worker?.postMessage({ type: 'manifests', manifests: $state.snapshot(manifests) } satisfies LiveRequest);
  }

  async listDevices(): Promise<void> {
    if (!navigator.mediaDevices?.enumerateDevices) return;
    const all = await navigator.mediaDevices.enumerateDevices();
    this.devices = all.filter((d) => d.kind === 'videoinput').map((d, i) => ({ deviceId: d.deviceId, label: d.label || `Camera ${i + 1}` }));
  }

  async start(): Promise<void> {
    this.stop();
    this.cameraError = null;
    if (!navigator.mediaDevices?.getUserMedia) {
      this.cameraError = describeCameraError({ name: 'SecurityError' }).message;
      return;
    }
    const [width, height] = this.resolution.split('x').map(Number);
    this.starting = true;
    try {
      const stream = await withPermissionTimeout(
        navigator.mediaDevices.getUserMedia({
          video: { deviceId: this.deviceId ? { exact: this.deviceId } : undefined, width: { ideal: width }, height: { ideal: height } },
          audio: false,
        }),
        undefined,
        (late) => late.getTracks().forEach((t) => t.stop()),
      );
      const track = stream.getVideoTracks()[0];
      track.addEventListener('ended', () => {
        if (this.stream === stream) {
          this.cameraError = CAMERA_ENDED_MESSAGE;
          this.stop();
        }
      });
      const settings = track.getSettings();
      this.frameSize = settings.width && settings.height ? { width: settings.width, height: settings.height } : null;
      this.stream = stream;
      await this.listDevices();
      this.ensureWorker();
    } catch (error) {
      this.cameraError = describeCameraError(error).message;
    } finally {
      this.starting = false;
    }
  }

  stop(): void {
    this.stream?.getTracks().forEach((t) => t.stop());
    this.stream = null;
    this.analysis = null;
    this.cells = [];
    this.fps = null;
    this.timestamps = [];
  }

  dispose(): void {
    this.stop();
    this.worker?.terminate();
    this.worker = null;
  }

  private ensureWorker(): void {
    if (this.worker) return;
    this.worker = new Worker(new URL('../capture/live-analysis.worker.ts', import.meta.url));
    this.worker.onmessage = (event: MessageEvent<LiveResponse>) => {
      const response = event.data;
      if (response.type === 'ready') {
        this.detector = 'ready';
        return;
      }
      if (response.frameId === null) {
        this.detector = 'failed';
        this.liveError = `Live marker detection is unavailable: ${response.type === 'error' ? response.message : 'unknown error'}`;
        return;
      }
      this.pending.get(response.frameId)?.(response);
      this.pending.delete(response.frameId);
    };
    this.detector = 'loading';
    this.worker.onerror = (event) => {
      this.detector = 'failed';
      this.liveError = `Live marker detection stopped: ${event.message}`;
    };
    this.worker.postMessage({ type: 'manifests', manifests: $state.snapshot(this.manifests) } satisfies LiveRequest);
  }

  /** The component hands over its <video> and a scratch canvas; the loop runs while the stream lives. */
  attach(video: HTMLVideoElement, canvas: HTMLCanvasElement): () => void {
    this.video = video;
    this.canvas = canvas;
    let stopped = false;
    const tick = async (): Promise<void> => {
      if (stopped) return;
      if (this.stream && !this.busy && video.readyState >= 2 && video.videoWidth > 0) {
        this.busy = true;
        try {
          await this.analyseFrame(video, canvas);
        } finally {
          this.busy = false;
        }
      }
      if (!stopped) requestAnimationFrame(() => void tick());
    };
    requestAnimationFrame(() => void tick());
    return () => {
      stopped = true;
      this.video = null;
      this.canvas = null;
    };
  }

  private grab(video: HTMLVideoElement, canvas: HTMLCanvasElement): ImageData {
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    const context = canvas.getContext('2d', { willReadFrequently: true })!;
    context.drawImage(video, 0, 0);
    return context.getImageData(0, 0, canvas.width, canvas.height);
  }

  private async analyseFrame(video: HTMLVideoElement, canvas: HTMLCanvasElement): Promise<void> {
    if (!this.worker || this.manifests.length === 0) return;
    const model = this.session.model;
    const frame = this.grab(video, canvas);
    const frameId = ++this.frameId;
    const response = await new Promise<LiveResponse>((resolve) => {
      this.pending.set(frameId, resolve);
      const inputShape: [number, number, number] = model ? [...model.inputShape] : [28, 28, 1];
      this.worker!.postMessage({ type: 'frame', frameId, width: frame.width, height: frame.height, pixels: frame.data.buffer, inputShape } satisfies LiveRequest, [frame.data.buffer]);
    });
    if (response.type !== 'analysis') {
      if (response.type === 'error') this.liveError = `Frame analysis failed: ${response.message}`;
      return;
    }
    this.liveError = null;
    const analysis = response.analysis;
    let top5: { label: number; probability: number }[][] | null = null;
    const crops = concatenateCrops(analysis);
    if (crops && model && (crops.channels === 1 || crops.channels === 3)) {
      try {
        const answer = await this.session.api.capture.classifyCrops({
          modelId: model.id,
          crops: float32ToBase64(crops.pixels),
          dtype: 'float32',
          count: crops.count,
          height: crops.height,
          width: crops.width,
          channels: crops.channels,
        });
        top5 = answer.top5;
      } catch (error) {
        this.liveError = `Live classification failed: ${errorMessage(error)}`;
      }
    }
    // Pair predictions with cells while the crops still say which cells were classified; then drop
    // the crops, since the overlay needs outlines only.
    this.cells = liveCells(analysis, top5);
    for (const cell of analysis.cells) delete cell.crop;
    this.analysis = analysis;
    this.timestamps = [...this.timestamps.slice(-19), performance.now()];
    this.fps = framesPerSecond(this.timestamps);
  }

  /** Stills are PNG (lossless): the host analyses exactly the frame the user saw. Null without a camera frame. */
  async still(): Promise<File | null> {
    if (!this.video || !this.canvas || !this.stream) return null;
    this.grab(this.video, this.canvas);
    const blob = await new Promise<Blob | null>((resolve) => this.canvas!.toBlob(resolve, 'image/png'));
    if (!blob) {
      this.job.error = 'The frame could not be encoded.';
      return null;
    }
    return new File([blob], `still-${new Date().toISOString().replace(/[:.]/g, '-')}.png`, { type: 'image/png' });
  }

  async captureStill(): Promise<void> {
    const file = await this.still();
    if (file) await this.analyse(file.name, file.type, new Uint8Array(await file.arrayBuffer()), 'camera');
  }

  async importPhotos(files: File[]): Promise<void> {
    for (const file of files) {
      if (!/^image\/(png|jpeg)$/.test(file.type)) {
        this.job.error = `${file.name} is not a JPEG or PNG photo.`;
        continue;
      }
      await this.analyse(file.name, file.type, new Uint8Array(await file.arrayBuffer()), 'file');
    }
  }

  private async analyse(name: string, mimeType: string, bytes: Uint8Array, source: 'camera' | 'file'): Promise<void> {
    const experimentId = this.session.experimentId;
    if (!experimentId) return;
    const info = await this.job.run('photoAnalysis', `Analysing ${name}`, () =>
      this.session.api.capture.analyzePhoto({ experimentId, modelId: this.session.modelId ?? undefined, photo: { name, mimeType, base64: bytesToBase64(bytes) }, source }),
    );
    if (info) {
      this.lastCapture = info;
      this.captures = [...this.captures.filter((c) => c.captureId !== info.captureId), info];
      void this.session.refreshExperiments();
    }
  }

  async remove(captureId: string): Promise<void> {
    const experimentId = this.session.experimentId;
    if (!experimentId) return;
    await this.session.guard(() => this.session.api.capture.delete({ experimentId, captureId }));
    this.captures = this.captures.filter((c) => c.captureId !== captureId);
  }
}
