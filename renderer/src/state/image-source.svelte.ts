/**
 * Which images a screen works on: the built-in samples, a dataset on the host's disk, or files the
 * user dropped (each with its true label, read from the file name or typed in). A label is a class
 * index or one of the model's label names, matched by the same rule as datasets on disk
 * (app/data/class-labels.ts), when the images are used with a model.
 */
import type { ImageSelection } from '../../../app/api/common.js';
import { ClassLabelMatcher, labelFromFileName } from '../../../app/data/class-labels.js';
import { bytesToBase64 } from '../base64.js';

export interface DroppedImage {
  key: string;
  name: string;
  mimeType: string;
  file: File;
  /** As typed, or the model's label the file name carries; '' when none is known yet. */
  label: string;
}

export class ImageSource {
  /** `modelLabels` gives the labels of the model the screen works with, when one is chosen. */
  constructor(private readonly modelLabels: () => readonly string[] | undefined = () => undefined) {}

  /** 'workspace': a dataset in the workspace's datasets/ folder (samples.datasets), by its path. */
  kind = $state<'samples' | 'dataset' | 'workspace' | 'files'>('samples');
  offset = $state(0);
  limit = $state(16);
  datasetPath = $state('');
  workspaceDatasetPath = $state('');
  files = $state<DroppedImage[]>([]);
  error = $state<string | null>(null);

  addFiles(list: Iterable<File>): void {
    const added: DroppedImage[] = [];
    for (const file of list) {
      if (!/^image\/(png|jpeg)$/.test(file.type)) {
        this.error = `${file.name} is not a PNG or JPEG image; only those can be attacked.`;
        continue;
      }
      added.push({ key: `${file.name}-${file.size}-${file.lastModified}-${this.files.length + added.length}`, name: file.name, mimeType: file.type, file, label: this.labelFromName(file.name) });
    }
    this.files = [...this.files, ...added];
    if (added.length > 0) this.kind = 'files';
  }

  /** The model's label a file name carries ("seven_01.png" → "seven"), or '' when it carries none. */
  private labelFromName(name: string): string {
    const labels = this.modelLabels();
    if (!labels) return '';
    const index = labelFromFileName(name, new ClassLabelMatcher(labels));
    return index === null ? '' : labels[index];
  }

  remove(key: string): void {
    this.files = this.files.filter((f) => f.key !== key);
  }

  /**
   * The API's selection, or null (with `error` set) when something is missing. Dropped files' labels
   * are resolved against `labels` (default: the screen's model).
   */
  async selection(labels: readonly string[] | undefined = this.modelLabels()): Promise<ImageSelection | null> {
    this.error = null;
    if (this.kind === 'samples') return { kind: 'samples', offset: this.offset, limit: this.limit };
    if (this.kind === 'dataset') {
      if (!this.datasetPath.trim()) {
        this.error = 'Give the path of a dataset (an MNIST IDX folder or a folder of labelled images).';
        return null;
      }
      return { kind: 'dataset', path: this.datasetPath.trim(), offset: this.offset, limit: this.limit };
    }
    if (this.kind === 'workspace') {
      if (!this.workspaceDatasetPath) {
        this.error = 'Choose a dataset of the workspace (put one in its datasets folder first).';
        return null;
      }
      return { kind: 'dataset', path: this.workspaceDatasetPath, offset: this.offset, limit: this.limit };
    }
    if (this.files.length === 0) {
      this.error = 'Drop some PNG or JPEG files first.';
      return null;
    }
    if (!labels) {
      this.error = 'Choose a model first: the true labels are matched to its classes.';
      return null;
    }
    const matcher = new ClassLabelMatcher(labels);
    const indices: number[] = [];
    for (const f of this.files) {
      const typed = f.label.trim();
      const index = typed === '' ? labelFromFileName(f.name, matcher) : (() => {
        try {
          return matcher.indexOf(typed, `${f.name}:`);
        } catch (error) {
          this.error = (error as Error).message;
          return undefined;
        }
      })();
      if (index === undefined) return null;
      if (index === null) {
        this.error = `${f.name} has no true label: type one in (a class number or one of the model's labels).`;
        return null;
      }
      indices.push(index);
    }
    const files = await Promise.all(
      this.files.map(async (f, i) => ({ name: f.name, mimeType: f.mimeType, label: indices[i], base64: bytesToBase64(new Uint8Array(await f.file.arrayBuffer())) })),
    );
    return { kind: 'files', files };
  }
}
