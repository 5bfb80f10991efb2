/**
 * A protected model: a model's compute pool behind a stored SafetyNet detector (detector.json). It
 * predicts and attacks as the plain model does (the attacker sees the classifier, as in Lu et al.'s
 * threat model for an unaware attacker) and screens every input it is shown with the detector on a
 * defense worker (defense-jobs.ts): predictions carry `rejected`, attack results `rejections`, and the
 * counting places (app/eval/summary.ts, app/physical/metrics.ts) count refusals apart from accuracy.
 * Every caller that opens a model (service, CLI) gets this one wrapper, so none screens on its own.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { AttackOptions, AttackResult, RunControl, TopK } from '../attacks/types.js';
import { parseStoredDetector } from '../defenses/stored-detector.js';
import type { StoredDetector } from '../defenses/stored-detector.js';
import type { AttackRejections } from '../eval/rejections.js';
import type { ModelSource } from '../models/source.js';
import type { BackendName } from './backend.js';
import type { ComputePool } from './compute-pool.js';
import { DefenseWorker } from './defense-jobs.js';

/** What callers use of a model's pool; a protected model offers the same. */
export type ModelPool = Pick<ComputePool, 'info' | 'memory' | 'close'> & {
  predict(images: Float32Array, k?: number, control?: RunControl): Promise<ScreenedTopK>;
  attack(images: Float32Array, labels: Int32Array, options: AttackOptions, control?: RunControl): Promise<ScreenedAttackResult>;
};
/** `rejected` per image: present only when a protected model made the predictions. */
export type ScreenedTopK = TopK & { rejected?: Uint8Array };
export type ScreenedAttackResult = AttackResult & { rejections?: AttackRejections };

/** detector.json from a file or from the folder holding it. */
export async function readStoredDetector(file: string): Promise<StoredDetector> {
  const info = await stat(file).catch(() => null);
  if (!info) throw new Error(`detector ${file} does not exist`);
  const target = info.isDirectory() ? path.join(file, 'detector.json') : file;
  const text = await readFile(target, 'utf8').catch(() => null);
  if (text === null) throw new Error(`${target} cannot be read (a detector folder holds detector.json)`);
  return parseStoredDetector(text, target);
}

/**
 * Parsed detector.json files, each kept while its file is unchanged: the same path, mtime, size and
 * inode (a detector retrained in place, or written anew and renamed over it, is read again). The
 * service looks a model's detector up several times a request; reading and validating it each time
 * was wasted work, and a model without one costs a failed stat.
 */
export class StoredDetectorCache {
  private readonly entries = new Map<string, { identity: string; detector: StoredDetector }>();

  /** @param read how a detector file is read (tests count the reads) */
  constructor(private readonly read: (file: string) => Promise<string> = (file) => readFile(file, 'utf8')) {}

  /** The detector stored in `file`; null when there is no such file. A file that is no detector throws, and is not kept. */
  async get(file: string): Promise<StoredDetector | null> {
    const info = await stat(file).catch(() => null);
    if (!info?.isFile()) {
      this.entries.delete(file);
      return null;
    }
    const identity = `${info.mtimeMs}:${info.size}:${info.ino}`;
    const kept = this.entries.get(file);
    if (kept?.identity === identity) return kept.detector;
    const text = await this.read(file).catch(() => null);
    if (text === null) return null;
    const detector = parseStoredDetector(text, file);
    this.entries.set(file, { identity, detector });
    return detector;
  }
}

/** 8-bit rounding, as the attack's quantized view is classified (round(x·255)/255). */
function quantize(images: Float32Array): Float32Array {
  return Float32Array.from(images, (v) => Math.round(Math.min(1, Math.max(0, v)) * 255) / 255);
}

export class ProtectedPool implements ModelPool {
  private readonly screener: DefenseWorker;

  /**
   * @param pool the protected model's own pool (closed with this one only when `ownsPool`)
   * @param source where the defense worker loads the model from to read its hidden layer
   * @param options.screener the defense worker that screens, kept by its owner across requests (the
   *   service's one per protected model); without it this pool starts its own and ends it on close
   */
  constructor(
    private readonly pool: ComputePool,
    readonly detector: StoredDetector,
    private readonly source: ModelSource,
    private readonly options: { backend?: BackendName; ownsPool?: boolean; screener?: DefenseWorker } = {},
  ) {
    this.screener = options.screener ?? new DefenseWorker();
  }

  info(): ReturnType<ComputePool['info']> {
    return this.pool.info();
  }

  memory(): ReturnType<ComputePool['memory']> {
    return this.pool.memory();
  }

  async close(): Promise<void> {
    await Promise.all([this.options.ownsPool ?? true ? this.pool.close() : undefined, this.options.screener ? undefined : this.screener.close()]);
  }

  /** The detector's verdict per image (1 = rejected). The images are copied: the job's buffers travel to its worker. */
  async screen(images: Float32Array, control?: Pick<RunControl, 'signal'>): Promise<Uint8Array> {
    if (images.length === 0) return new Uint8Array(0);
    const result = await this.screener.run(
      {
        kind: 'screen',
        models: [{ id: this.detector.modelId, source: this.source }],
        images: images.slice(),
        labels: new Int32Array(0),
        ...(this.options.backend ? { backend: this.options.backend } : {}),
        detector: { layer: this.detector.layer, codebook: this.detector.codebook, threshold: this.detector.threshold, svm: this.detector.svm },
      },
      { signal: control?.signal },
    );
    if (result.kind !== 'screen') throw new Error('the defense worker answered another job');
    return result.rejected;
  }

  async predict(images: Float32Array, k?: number, control?: RunControl): Promise<ScreenedTopK> {
    const rejected = await this.screen(images, control);
    return { ...(await this.pool.predict(images, k, control)), rejected };
  }

  /** The attack on the classifier, then every image shown to the protected model screened in one job: clean, and per ε both views. */
  async attack(images: Float32Array, labels: Int32Array, options: AttackOptions, control?: RunControl): Promise<ScreenedAttackResult> {
    const result = await this.pool.attack(images, labels, { ...options, keepImages: true }, control);
    const size = images.length / Math.max(1, labels.length);
    const n = labels.length;
    const all = new Float32Array(images.length * (1 + 2 * result.perEpsilon.length));
    all.set(images, 0);
    result.perEpsilon.forEach((e, index) => {
      all.set(e.adversarial!, (1 + 2 * index) * n * size);
      all.set(quantize(e.adversarial!), (2 + 2 * index) * n * size);
    });
    const rejected = await this.screen(all, control);
    const part = (j: number) => rejected.slice(j * n, (j + 1) * n);
    const rejections: AttackRejections = { clean: part(0), perEpsilon: result.perEpsilon.map((_, index) => ({ float: part(1 + 2 * index), quantized: part(2 + 2 * index) })) };
    if (options.keepImages === false) {
      for (const e of result.perEpsilon) {
        delete e.adversarial;
        delete e.perturbation;
      }
    }
    return { ...result, rejections };
  }
}
