/**
 * `foolprint calibrate`: the channel calibration. `--sheet` writes the calibration sheet to print
 * (PDF, PNG, calibration-sheet.json); given photos of the printed sheet, it fits a channel profile
 * (tone curves, colour matrix, blur in mm, noise, light and pose ranges) for `simulate --channel` and
 * EOT attacks.
 */
import type { Command } from 'commander';
import path from 'node:path';
import { finalOutputPath } from '../../../app/node/output-folder.js';
import type { CalibrationPhoto } from '../../../app/physical/calibration-fit.js';
import { UsageError, guarded, interruptSignal, prepareCliOutput } from '../failure.js';
import { createProgressBar } from '../progress.js';

interface CalibrateCommandOptions {
  sheet?: boolean;
  out?: string;
  sheets: string[];
  paper: string;
  orientation: string;
  dpi: string;
  name?: string;
  force?: boolean;
  json?: boolean;
}

const DEFAULT_SHEET_DIR = 'foolprint-calibration';

/**
 * What calibrating needs (OpenCV, canvas and zod among it: about 0.4 s of CPU), loaded when the
 * command runs rather than whenever the CLI lists its commands (issue 12: --help within 0.3 s).
 */
async function calibrationModules() {
  const [files, render, fit, sheet, layout, opencv] = await Promise.all([
    import('../../../app/node/calibration-files.js'),
    import('../../../app/node/sheet-render.js'),
    import('../../../app/physical/calibration-fit.js'),
    import('../../../app/physical/calibration-sheet.js'),
    import('../../../app/physical/layout.js'),
    import('../../../app/physical/opencv.node.js'),
  ]);
  return { ...files, ...render, ...fit, ...sheet, ...layout, ...opencv };
}
type CalibrationModules = Awaited<ReturnType<typeof calibrationModules>>;

export function registerCalibrate(program: Command): void {
  program
    .command('calibrate')
    .description('calibrate the print-and-photo channel: --sheet writes the calibration sheet; photos of it give a channel profile')
    .argument('[photos...]', 'photos of the printed calibration sheet (JPEG, PNG, ...)')
    .option('--sheet', 'write the calibration sheet to print (PDF, PNG and calibration-sheet.json) into --out')
    .option('--out <path>', `with --sheet: the output folder (default ${DEFAULT_SHEET_DIR}); with photos: the profile JSON (default channel-profile.json)`)
    .option('--sheets <dir|file>', `calibration-sheet.json, or a folder holding it (repeatable; default ${DEFAULT_SHEET_DIR})`, (value: string, previous: string[]) => [...previous, value], [] as string[])
    .option('--name <text>', 'the profile\'s name, e.g. "Office laser + phone"')
    .option('--paper <name>', 'with --sheet: a4 or letter', 'a4')
    .option('--orientation <o>', 'with --sheet: portrait or landscape', 'portrait')
    .option('--dpi <n>', 'with --sheet: resolution of the PNG', '300')
    .option('--force', 'with --sheet: replace --out even if it holds files foolprint did not write')
    .option('--json', 'print the result as JSON')
    .action(guarded(async (photos: string[], options: CalibrateCommandOptions) => {
      const modules = await calibrationModules();
      const { CalibrationError, LayoutError, SheetRenderError } = modules;
      try {
        if (options.sheet) {
          if (photos.length > 0) throw new UsageError('give either --sheet (to print the calibration sheet) or photos of it (to fit a profile), not both');
          await writeSheet(options, modules);
        } else {
          if (photos.length === 0) throw new UsageError('give photos of the printed calibration sheet, or --sheet to write one');
          await fitProfile(photos, options, modules);
        }
      } catch (error) {
        if (error instanceof CalibrationError || error instanceof LayoutError || error instanceof SheetRenderError) throw new UsageError(error.message);
        throw error;
      }
    }));
}

async function writeSheet(options: CalibrateCommandOptions, { MIN_PNG_DPI, writeCalibrationSheet }: CalibrationModules): Promise<void> {
  const paper = options.paper.toLowerCase();
  if (paper !== 'a4' && paper !== 'letter') throw new UsageError(`--paper must be a4 or letter, got "${options.paper}"`);
  const orientation = options.orientation.toLowerCase();
  if (orientation !== 'portrait' && orientation !== 'landscape') throw new UsageError(`--orientation must be portrait or landscape, got "${options.orientation}"`);
  const dpi = Number(options.dpi);
  if (!Number.isFinite(dpi) || dpi < MIN_PNG_DPI) throw new UsageError(`--dpi must be a number of at least ${MIN_PNG_DPI}, got "${options.dpi}"`);
  const output = await prepareCliOutput(options.out ?? DEFAULT_SHEET_DIR, 'calibrate --sheet', options.force);
  const written = await output.write(async (staging) => {
    const sheet = await writeCalibrationSheet(staging, { paper, orientation, dpi });
    const moved = (file: string) => finalOutputPath(output, staging, file);
    return { ...sheet, pdfPath: moved(sheet.pdfPath), pngPath: sheet.pngPath === null ? null : moved(sheet.pngPath), manifestPath: moved(sheet.manifestPath) };
  });
  const { manifest } = written;
  if (options.json) {
    process.stdout.write(JSON.stringify({ notes: written.notes, pdf: written.pdfPath, png: written.pngPath, manifest: written.manifestPath, identity: manifest.sheet.identity, patches: manifest.patches.length, edges: manifest.edges.length }, null, 2) + '\n');
    return;
  }
  for (const note of written.notes) process.stderr.write(`note: ${note}\n`);
  process.stdout.write(`calibration sheet ${manifest.sheet.sheetId} (set identity ${manifest.sheet.identity}): ${manifest.patches.length} patches, ${manifest.edges.length} slanted edges on ${paper} ${orientation}\n`);
  process.stdout.write(`wrote ${written.pdfPath}, ${written.pngPath ? `${path.basename(written.pngPath)} and ` : ''}${path.basename(written.manifestPath)}\n`);
  process.stdout.write('print the PDF at 100 % on the printer and paper to calibrate, photograph it with your camera, then: foolprint calibrate PHOTOS...\n');
}

async function fitProfile(
  files: string[],
  options: CalibrateCommandOptions,
  { CalibrationError, calibrate, loadCalibrationManifests, loadOpenCVInNode, readCalibrationPhotoFile, writeChannelProfile }: CalibrationModules,
): Promise<void> {
  const out = options.out ?? 'channel-profile.json';
  if (path.extname(out).toLowerCase() !== '.json') throw new UsageError(`--out must end in .json, got "${out}"`);
  const manifests = await loadCalibrationManifests(options.sheets.length > 0 ? options.sheets : [DEFAULT_SHEET_DIR]);
  const signal = interruptSignal();
  const bar = createProgressBar({ json: options.json });
  const photos: CalibrationPhoto[] = [];
  const unreadable: { name: string; message: string }[] = [];
  for (const [i, file] of files.entries()) {
    bar.update(i, 2 * files.length, `reading ${path.basename(file)}`);
    try {
      photos.push(await readCalibrationPhotoFile(file));
    } catch (error) {
      if (!(error instanceof CalibrationError)) throw error;
      unreadable.push({ name: path.basename(file), message: error.message });
    }
  }
  if (photos.length === 0) throw new CalibrationError(unreadable.map((u) => u.message).join('; '));
  const opencv = await loadOpenCVInNode();
  const result = await calibrate(photos, manifests, {
    name: options.name,
    opencv,
    signal,
    onProgress: (done, total, label) => bar.update(files.length + done, files.length + total, label === 'fitting' ? 'fitting' : `reading the sheet in ${label}`),
  });
  bar.done();
  await writeChannelProfile(out, result.profile);
  const failures = [...unreadable, ...result.failures];
  const { profile } = result;
  if (options.json) {
    process.stdout.write(
      JSON.stringify(
        {
          out: path.resolve(out),
          profile,
          failures,
          photos: result.readings.map((r) => ({ name: r.name, sheetId: r.sheetId, pixelsPerMm: r.pixelsPerMm, tiltDeg: r.tiltDeg, noise: r.noise, blurMm: r.edges.map((e) => e.sigmaMm), patches: r.patches.length, residual: r.residual, jpegQuality: r.jpegQuality, warnings: r.warnings })),
        },
        null,
        2,
      ) + '\n',
    );
    return;
  }
  for (const failure of failures) process.stderr.write(`skipped ${failure.message}\n`);
  const range = ([a, b]: readonly number[], digits: number) => (a === b ? a.toFixed(digits) : `${a.toFixed(digits)}-${b.toFixed(digits)}`);
  const tone = (c: number) => `${profile.tone[c][0].toFixed(2)}→${profile.tone[c][profile.tone[c].length - 1].toFixed(2)}`;
  process.stdout.write(`channel profile "${profile.name}" from ${result.readings.length} photo(s)\n`);
  process.stdout.write(`  tone (black→white)  R ${tone(0)}  G ${tone(1)}  B ${tone(2)}   fit RMS ${result.colourRms.toFixed(4)}\n`);
  process.stdout.write(`  colour matrix       ${[0, 1, 2].map((r) => profile.colourMatrix.slice(3 * r, 3 * r + 3).map((v) => v.toFixed(3)).join(' ')).join(' | ')}\n`);
  process.stdout.write(`  blur σ              ${range(profile.blurMm, 3)} mm\n`);
  process.stdout.write(`  noise σ             ${range(profile.noiseSigma, 4)}\n`);
  process.stdout.write(`  brightness          ${range(profile.brightness, 3)}, contrast ${range(profile.contrast, 3)}\n`);
  process.stdout.write(`  tilt seen           ${range(profile.observed?.tiltDeg ?? [0, 0], 1)}°, residual shift ±${profile.pose.translateMm[1].toFixed(2)} mm, rotation ±${profile.pose.rotationDeg[1].toFixed(2)}°\n`);
  process.stdout.write(`  JPEG quality        ${profile.jpegQuality ? range(profile.jpegQuality, 0) : 'lossless'}\n`);
  process.stdout.write(`wrote ${path.resolve(out)}\n`);
}
