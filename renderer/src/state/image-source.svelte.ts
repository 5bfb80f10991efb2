/**
 * Which images a screen works on: the built-in samples, a dataset on the host's disk, or files the
 * user dropped (each with its true label, read from the file name or typed in).
 */
import type { ImageSelection } from '../../../app/api/common.js';
import { bytesToBase64, labelFromFileName } from '../base64.js';

export interface DroppedImage {
  key: string;
  name: string;
  mimeType: string;
  file: File;
  label: number | null;
}

export class ImageSource {
  kind = $state<'samples' | 'dataset' | 'files'>('samples');
  offset = $state(0);
  limit = $state(16);
  datasetPath = $state('');
  files = $state<DroppedImage[]>([]);
  error = $state<string | null>(null);

  addFiles(list: Iterable<File>): void {
    const added: DroppedImage[] = [];
    for (const file of list) {
      if (!/^image\/(png|jpeg)$/.test(file.type)) {
        this.error = `${file.name} is not a PNG or JPEG image; only those can be attacked.`;
        continue;
      }
      added.push({ key: `${file.name}-${file.size}-${file.lastModified}-${this.files.length + added.length}`, name: file.name, mimeType: file.type, file, label: labelFromFileName(file.name) });
    }
    this.files = [...this.files, ...added];
    if (added.length > 0) this.kind = 'files';
  }

  remove(key: string): void {
    this.files = this.files.filter((f) => f.key !== key);
  }

  /** The API's selection, or null (with `error` set) when something is missing. */
  async selection(): Promise<ImageSelection | null> {
    this.error = null;
    if (this.kind === 'samples') return { kind: 'samples', offset: this.offset, limit: this.limit };
    if (this.kind === 'dataset') {
      if (!this.datasetPath.trim()) {
        this.error = 'Give the path of a dataset (an MNIST IDX folder or a folder of labelled images).';
        return null;
      }
      return { kind: 'dataset', path: this.datasetPath.trim(), offset: this.offset, limit: this.limit };
    }
    if (this.files.length === 0) {
      this.error = 'Drop some PNG or JPEG files first.';
      return null;
    }
    const unlabelled = this.files.find((f) => f.label === null || !Number.isInteger(f.label) || f.label < 0);
    if (unlabelled) {
      this.error = `${unlabelled.name} has no true label: type one in.`;
      return null;
    }
    const files = await Promise.all(
      this.files.map(async (f) => ({ name: f.name, mimeType: f.mimeType, label: f.label as number, base64: bytesToBase64(new Uint8Array(await f.file.arrayBuffer())) })),
    );
    return { kind: 'files', files };
  }
}
