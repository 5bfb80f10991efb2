/**
 * Where the images of a sheet come from, read into one NHWC byte array with a record per image:
 * - an attack run of `foolprint attack` (record.json beside clean-<i>.png / adv-<ε>-<i>.png), with
 *   its digital top-5 predictions, so every printed cell links back to them;
 * - any folder of PNGs with a CSV of labels: examples crafted elsewhere (ART, torchattacks, Foolbox)
 *   get the same physical test.
 */
import { methodLabel } from '../attacks/method-label.js';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { parseAttackRecord } from '../experiments/attack-record.js';
import type { AttackRecord } from '../experiments/attack-record.js';
import type { SheetCellSource } from '../physical/sheet-manifest.js';
import { ConfinedPathError, confinedPath } from './confined-path.js';

export class SheetSourceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SheetSourceError';
  }
}

export interface SheetSource {
  /** NHWC bytes 0..255. */
  images: Uint8Array;
  shape: [number, number, number, number];
  /** One per image; in pairs mode alternating clean, adversarial. */
  records: SheetCellSource[];
  experiment: string;
  modelId: string | null;
  classNames: string[] | null;
  source: { kind: 'attack-record' | 'folder'; path: string };
}

export interface AttackSheetSelection {
  /** Clean original beside each adversarial image (one pair per image and ε). */
  pairs?: boolean;
  /** Singles mode: leave the clean originals out. */
  adversarialOnly?: boolean;
  /**
   * Only adversarial images whose print survival estimate is at least this, and the clean originals
   * of those (beside them, or on their own in singles mode): what a physical attacker prints. The
   * destruction rate then counts these only.
   */
  minSurvival?: number;
  /** Only these ε of the run (matched to 1e-9). */
  epsilons?: number[];
  /** Only the first n images of the run. */
  limit?: number;
}

interface Decoded {
  data: Uint8Array;
  width: number;
  height: number;
}

/**
 * Decodes an image file to RGB bytes; the caller reduces to one channel when every image is grey.
 * Transparency is flattened onto white: what transparent pixels become on paper.
 */
async function decodeRgb(file: string): Promise<Decoded> {
  try {
    const { data, info } = await sharp(file).flatten({ background: '#ffffff' }).toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new SheetSourceError(`cannot read image ${file}: ${reason.split('\n')[0]}`);
  }
}

/** Stacks decoded images into NHWC; one channel when `channels` is 1, or when undefined and all are grey. */
function stack(decoded: Decoded[], files: string[], channels?: 1 | 3): { images: Uint8Array; shape: [number, number, number, number] } {
  const { width, height } = decoded[0];
  decoded.forEach((image, i) => {
    if (image.width !== width || image.height !== height) {
      throw new SheetSourceError(`${files[i]} is ${image.width}x${image.height}, but ${files[0]} is ${width}x${height}: a sheet needs images of one size`);
    }
  });
  const grey = (image: Decoded) => {
    for (let p = 0; p < image.data.length; p += 3) if (image.data[p] !== image.data[p + 1] || image.data[p] !== image.data[p + 2]) return false;
    return true;
  };
  const c = channels ?? (decoded.every(grey) ? 1 : 3);
  const size = width * height * c;
  const images = new Uint8Array(decoded.length * size);
  decoded.forEach((image, n) => {
    if (c === 3) images.set(image.data, n * size);
    else for (let p = 0; p < width * height; p++) images[n * size + p] = image.data[3 * p];
  });
  return { images, shape: [decoded.length, height, width, c] };
}

function sameEpsilon(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
}

/** An image file record.json names: inside the run's folder, or a SheetSourceError (nothing read). */
async function recordImagePath(folder: string, name: string): Promise<string> {
  try {
    return await confinedPath(folder, name, { what: 'record.json image', folderName: `the run folder ${folder}` });
  } catch (error) {
    if (error instanceof ConfinedPathError) throw new SheetSourceError(error.message);
    throw error;
  }
}

/** `recordPath` is record.json or the folder holding it. */
export async function loadAttackSheetSource(recordPath: string, selection: AttackSheetSelection = {}): Promise<SheetSource> {
  let file = recordPath;
  const info = await stat(recordPath).catch(() => null);
  if (!info) throw new SheetSourceError(`${recordPath} does not exist`);
  if (info.isDirectory()) file = path.join(recordPath, 'record.json');
  const text = await readFile(file, 'utf8').catch(() => {
    throw new SheetSourceError(`${file} not found: --from takes an attack folder (with record.json) or a folder of PNGs with --labels`);
  });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new SheetSourceError(`${file} is not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  let record: AttackRecord;
  try {
    record = parseAttackRecord(json, file);
  } catch (error) {
    throw new SheetSourceError(error instanceof Error ? error.message : String(error));
  }
  const folder = path.dirname(file);
  if (selection.pairs && selection.adversarialOnly) throw new SheetSourceError('pairs print the clean original beside each adversarial image: drop --adversarial-only or --pairs');

  const epsilons = selection.epsilons ?? record.epsilons;
  for (const epsilon of epsilons) {
    if (!record.epsilons.some((e) => sameEpsilon(e, epsilon))) throw new SheetSourceError(`ε ${epsilon} is not in the run (it has ${record.epsilons.join(', ')})`);
  }
  if (selection.minSurvival !== undefined && !record.images.some((image) => image.adversarial.some((a) => a.quantized.survival !== undefined))) {
    throw new SheetSourceError(`${file} has no print survival estimates to select by: run the attack with a print survival estimate (--survival <draws>) first`);
  }
  const images = record.images.slice(0, selection.limit ?? record.images.length);
  const files: string[] = [];
  const records: SheetCellSource[] = [];
  for (const image of images) {
    const cleanDigital = { float: image.clean.top5, quantized: image.clean.top5 };
    const common = { imageId: image.id, sourceIndex: image.index, trueLabel: image.label, target: image.target ?? null };
    const clean = (adversarial: { float: typeof image.clean.top5; quantized: typeof image.clean.top5 } | null): SheetCellSource => ({
      ...common,
      kind: 'clean',
      file: image.clean.file,
      // Clean images are stored as 8-bit PNGs, so their float and quantized predictions coincide.
      digital: { clean: cleanDigital, adversarial },
    });
    const kept = image.adversarial.filter((a) => epsilons.some((e) => sameEpsilon(a.epsilon, e)) && (selection.minSurvival === undefined || (a.quantized.survival ?? 0) >= selection.minSurvival));
    // A clean original on its own is printed for its adversarial versions: none kept, none printed.
    if (!selection.pairs && !selection.adversarialOnly && (selection.minSurvival === undefined || kept.length > 0)) {
      records.push(clean(null));
      files.push(image.clean.file);
    }
    for (const adversarial of kept) {
      const adversarialDigital = { float: adversarial.float.top5, quantized: adversarial.quantized.top5 };
      if (selection.pairs) {
        records.push(clean(adversarialDigital));
        files.push(image.clean.file);
      }
      records.push({
        ...common,
        kind: 'adversarial',
        file: adversarial.file,
        // "bim+eot16": EOT and plain runs of one method stay apart in the analysis and on the Compare screen.
        method: methodLabel(record.method, record.options),
        epsilon: adversarial.epsilon,
        digital: { clean: cleanDigital, adversarial: adversarialDigital },
        ...(adversarial.quantized.survival === undefined ? {} : { survival: adversarial.quantized.survival }),
      });
      files.push(adversarial.file);
    }
  }
  if (records.length === 0) {
    throw new SheetSourceError(selection.minSurvival === undefined ? `${file} selects no images` : `no adversarial image of ${file} (of those chosen) has a print survival estimate of at least ${selection.minSurvival}`);
  }
  const decoded = await Promise.all(files.map(async (name) => decodeRgb(await recordImagePath(folder, name))));
  const channels = record.model.inputShape[2];
  const stacked = stack(decoded, files, channels === 1 || channels === 3 ? channels : undefined);
  return {
    ...stacked,
    records,
    experiment: `${methodLabel(record.method, record.options)} ${record.model.id} ${record.dataset}`,
    modelId: record.model.id,
    classNames: record.model.labels,
    source: { kind: 'attack-record', path: file },
  };
}

export interface LabelRow {
  /** 0-based data row. */
  row: number;
  file: string;
  label: number;
  kind: 'clean' | 'adversarial';
  method: string | null;
  epsilon: number | null;
  /** The clean original of an adversarial row (needed for pairs). */
  clean: string | null;
  id: string | null;
}

/** RFC 4180 fields: commas, double quotes, "" inside quotes; CRLF or LF. */
function splitCsv(text: string): string[][] {
  const rows: string[][] = [];
  let field = '';
  let row: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += ch;
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((r) => r.some((cell) => cell.trim() !== ''));
}

const columnNames: Record<string, keyof LabelRow> = {
  file: 'file',
  filename: 'file',
  image: 'file',
  path: 'file',
  label: 'label',
  true_label: 'label',
  y: 'label',
  kind: 'kind',
  method: 'method',
  attack: 'method',
  epsilon: 'epsilon',
  eps: 'epsilon',
  clean: 'clean',
  clean_file: 'clean',
  id: 'id',
};

/**
 * The labels CSV of a folder of images. With a header row, columns are named (case-insensitive):
 * file (or filename/image/path), label (or true_label/y), and optionally kind (clean|adversarial,
 * default adversarial), method (or attack), epsilon (or eps; a decimal or "8/255"), clean (the clean
 * original's file, for pairs), id. Without a header: file,label.
 */
export function parseLabelsCsv(text: string, source = 'labels CSV'): LabelRow[] {
  const rows = splitCsv(text.replace(/^\uFEFF/, ''));
  if (rows.length === 0) throw new SheetSourceError(`${source} is empty`);
  const hasHeader = !/^\s*-?\d+\s*$/.test(rows[0][1] ?? '');
  const header = hasHeader ? rows[0].map((name) => name.trim().toLowerCase()) : ['file', 'label'];
  const columns = header.map((name) => columnNames[name]);
  if (!columns.includes('file') || !columns.includes('label')) {
    throw new SheetSourceError(`${source} needs a "file" and a "label" column (header: ${rows[0].join(',')})`);
  }
  return rows.slice(hasHeader ? 1 : 0).map((cells, row) => {
    const line = row + (hasHeader ? 2 : 1);
    const value = (key: keyof LabelRow) => {
      const at = columns.indexOf(key);
      const cell = at >= 0 ? cells[at]?.trim() : undefined;
      return cell === undefined || cell === '' ? null : cell;
    };
    const file = value('file');
    if (!file) throw new SheetSourceError(`${source} line ${line}: no file name`);
    const labelText = value('label');
    const label = Number(labelText);
    if (labelText === null || !Number.isInteger(label) || label < 0) throw new SheetSourceError(`${source} line ${line}: label must be a whole number ≥ 0, got "${labelText ?? ''}"`);
    const kindText = (value('kind') ?? 'adversarial').toLowerCase();
    if (kindText !== 'clean' && kindText !== 'adversarial') throw new SheetSourceError(`${source} line ${line}: kind must be clean or adversarial, got "${kindText}"`);
    const epsilonText = value('epsilon');
    let epsilon: number | null = null;
    if (epsilonText !== null) {
      const fraction = /^(\d+(?:\.\d+)?)\/(\d+(?:\.\d+)?)$/.exec(epsilonText);
      epsilon = fraction ? Number(fraction[1]) / Number(fraction[2]) : Number(epsilonText);
      if (!Number.isFinite(epsilon) || epsilon < 0) throw new SheetSourceError(`${source} line ${line}: epsilon must be a number ≥ 0 or "8/255", got "${epsilonText}"`);
    }
    return { row, file, label, kind: kindText, method: value('method'), epsilon, clean: value('clean'), id: value('id') };
  });
}

/**
 * A folder of images plus its labels CSV (default: labels.csv in the folder). File names in the CSV
 * are relative to the folder. In pairs mode every row must be adversarial and name its clean original.
 */
export async function loadFolderSheetSource(folder: string, options: { labels?: string; pairs?: boolean; limit?: number; experiment?: string } = {}): Promise<SheetSource> {
  const info = await stat(folder).catch(() => null);
  if (!info?.isDirectory()) throw new SheetSourceError(`${folder} is not a folder`);
  const labelsPath = options.labels ?? path.join(folder, 'labels.csv');
  const text = await readFile(labelsPath, 'utf8').catch(() => {
    throw new SheetSourceError(`labels CSV ${labelsPath} not found: give --labels <csv> (columns file,label[,kind,method,epsilon,clean,id])`);
  });
  const rows = parseLabelsCsv(text, path.basename(labelsPath)).slice(0, options.limit);
  if (rows.length === 0) throw new SheetSourceError(`${labelsPath} lists no images`);
  const files: string[] = [];
  const records: SheetCellSource[] = [];
  for (const row of rows) {
    const common = { imageId: row.id ?? row.file, sourceIndex: row.row, trueLabel: row.label };
    if (options.pairs) {
      if (row.kind !== 'adversarial' || !row.clean) {
        throw new SheetSourceError(`pairs need a "clean" column naming each adversarial image's original; row ${row.row + 1} (${row.file}) has none`);
      }
      records.push({ ...common, imageId: row.clean, kind: 'clean', file: row.clean });
      files.push(row.clean);
    }
    records.push({ ...common, kind: row.kind, file: row.file, method: row.method, epsilon: row.epsilon });
    files.push(row.file);
  }
  const decoded = await Promise.all(files.map((file) => decodeRgb(path.resolve(folder, file))));
  return {
    ...stack(decoded, files),
    records,
    experiment: options.experiment ?? path.basename(path.resolve(folder)),
    modelId: null,
    classNames: null,
    source: { kind: 'folder', path: path.resolve(folder) },
  };
}
