/**
 * Calibration on disk: the calibration sheet's PDF, PNG and manifest (drawn by the sheet writer, so it
 * prints exactly as attack sheets do), photos decoded for the fit, and channel profiles written
 * atomically. Shared by `foolprint calibrate` and the service.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from './atomic-write.js';
import { imageCanvases, renderSheetCanvas, renderSheetPdf } from './sheet-render.js';
import { CalibrationError, parseCalibrationManifest, planCalibrationSheet } from '../physical/calibration-sheet.js';
import type { CalibrationManifest, CalibrationSheetOptions } from '../physical/calibration-sheet.js';
import { jpegQualityOf } from '../physical/calibration-fit.js';
import type { CalibrationPhoto } from '../physical/calibration-fit.js';
import { parseChannelProfile } from '../physical/channel-profile.js';
import type { ChannelProfile } from '../physical/channel-profile.js';

/** The calibration manifest's file name: not `*.manifest.json`, so `foolprint analyze --sheets` never takes it for an attack sheet. */
export const CALIBRATION_MANIFEST_FILE = 'calibration-sheet.json';

export interface WrittenCalibrationSheet {
  pdfPath: string;
  pngPath: string | null;
  manifestPath: string;
  manifest: CalibrationManifest;
  notes: string[];
}

/** Draws the calibration sheet and writes calibration.pdf, calibration.png and calibration-sheet.json into `outDir`. */
export async function writeCalibrationSheet(outDir: string, options: CalibrationSheetOptions & { png?: boolean } = {}): Promise<WrittenCalibrationSheet> {
  const sheet = planCalibrationSheet(options);
  const canvases = imageCanvases(sheet.images, sheet.shape);
  await mkdir(outDir, { recursive: true });
  const notes: string[] = [];
  const pdfPath = path.join(outDir, sheet.manifest.sheet.files.pdf);
  await writeFileAtomic(pdfPath, renderSheetPdf(sheet.plan, canvases, undefined, (note) => notes.push(note)));
  let pngPath: string | null = null;
  if (options.png ?? true) {
    const dpi = sheet.manifest.sheet.dpi;
    pngPath = path.join(outDir, sheet.manifest.sheet.files.png);
    await writeFileAtomic(pngPath, renderSheetCanvas(sheet.plan, 0, canvases, dpi).toBuffer('image/png', { compressionLevel: 6, resolution: dpi }));
  }
  // Written last: a folder without it holds no finished calibration sheet.
  const manifestPath = path.join(outDir, CALIBRATION_MANIFEST_FILE);
  await writeJsonAtomic(manifestPath, sheet.manifest);
  return { pdfPath, pngPath, manifestPath, manifest: sheet.manifest, notes };
}

/**
 * Calibration manifests from files or folders: a file is read as one; a folder gives every
 * calibration-sheet.json in it and in its direct sub-folders (one per printed set).
 */
export async function loadCalibrationManifests(paths: readonly string[]): Promise<CalibrationManifest[]> {
  const files: string[] = [];
  for (const given of paths) {
    const info = await stat(given).catch(() => null);
    if (!info) throw new CalibrationError(`calibration sheets not found: ${given}`);
    if (info.isFile()) {
      files.push(given);
      continue;
    }
    const entries = await readdir(given, { withFileTypes: true });
    if (entries.some((e) => e.isFile() && e.name === CALIBRATION_MANIFEST_FILE)) files.push(path.join(given, CALIBRATION_MANIFEST_FILE));
    for (const entry of entries.filter((e) => e.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) {
      const inner = path.join(given, entry.name, CALIBRATION_MANIFEST_FILE);
      if (await stat(inner).then((s) => s.isFile(), () => false)) files.push(inner);
    }
    if (files.length === 0) throw new CalibrationError(`no ${CALIBRATION_MANIFEST_FILE} in ${given} (foolprint calibrate --sheet --out ${given} writes one)`);
  }
  return Promise.all(files.map(async (file) => parseCalibrationManifest(await readFile(file, 'utf8'), file)));
}

/** Decodes photo bytes (JPEG, PNG, …; EXIF orientation honoured) into a calibration photo; unreadable bytes are a CalibrationError. */
export async function decodeCalibrationPhoto(bytes: Uint8Array, name: string): Promise<CalibrationPhoto> {
  const { default: sharp } = await import('sharp');
  try {
    const { data, info } = await sharp(bytes).rotate().removeAlpha().ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    return { name, image: { data: new Uint8ClampedArray(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height }, jpegQuality: jpegQualityOf(bytes) };
  } catch (error) {
    throw new CalibrationError(`${name}: unreadable photo (${(error as Error).message})`);
  }
}

export async function readCalibrationPhotoFile(file: string): Promise<CalibrationPhoto> {
  const bytes = await readFile(file).catch((error: NodeJS.ErrnoException) => {
    throw new CalibrationError(`${path.basename(file)}: unreadable photo (${error.code === 'ENOENT' ? 'no such file' : error.message})`);
  });
  return decodeCalibrationPhoto(bytes, path.basename(file));
}

export async function writeChannelProfile(file: string, profile: ChannelProfile): Promise<void> {
  await mkdir(path.dirname(path.resolve(file)), { recursive: true });
  await writeJsonAtomic(file, profile);
}

export async function readChannelProfile(file: string): Promise<ChannelProfile> {
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new CalibrationError(`channel profile ${file}: ${error.code === 'ENOENT' ? 'no such file' : error.message}`);
  });
  return parseChannelProfile(text, file);
}
