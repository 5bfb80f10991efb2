/**
 * `foolprint analyze`: photos of printed sheets (files or folders) against their sheet manifests:
 * find the markers, rectify and classify every cell, write one JSON per photo, and summarise Kurakin
 * et al.'s destruction rates per method and ε (average and prefiltered case).
 */
import type { Command } from 'commander';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { writeJsonAtomic } from '../../../app/node/atomic-write.js';
import type { PhotoAnalysis } from '../../../app/physical/analyze.js';
import { combineCaptures } from '../../../app/physical/combine.js';
import type { CombineMode } from '../../../app/physical/combine.js';
import { digitalAgreement, experimentTable, samplesFromPhotographs } from '../../../app/physical/metrics.js';
import type { ExperimentRow, PhotographedCell } from '../../../app/physical/metrics.js';
import type { SheetManifest } from '../../../app/physical/sheet-manifest.js';
import { UsageError, guarded, interruptSignal, prepareCliOutput } from '../failure.js';
import { createProgressBar } from '../progress.js';
import { addDetectorOption, addModelOptions, formatTable, openPool } from '../workbench.js';
import type { WorkbenchOptions } from '../workbench.js';

interface AnalyzeCommandOptions extends WorkbenchOptions {
  sheets: string[];
  combine?: string;
  out?: string;
  force?: boolean;
  json?: boolean;
}

const PHOTO_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.tif', '.tiff', '.heic']);

/** Files as given; folders expanded to the photos (or manifests) directly inside them, sorted. */
async function expand(paths: readonly string[], accept: (name: string) => boolean, what: string): Promise<string[]> {
  const files: string[] = [];
  for (const p of paths) {
    const info = await stat(p).catch(() => null);
    if (!info) throw new UsageError(`${what} ${p} does not exist`);
    if (info.isDirectory()) {
      const names = (await readdir(p)).filter(accept).sort();
      if (names.length === 0) throw new UsageError(`folder ${p} holds no ${what}s`);
      files.push(...names.map((name) => path.join(p, name)));
    } else files.push(p);
  }
  return files;
}

async function loadManifests(paths: readonly string[]): Promise<SheetManifest[]> {
  // Imported here: its zod schema costs ~150 ms of start-up that --help and the other commands do not need.
  const { SheetManifestError, parseSheetManifestText } = await import('../../../app/physical/sheet-manifest.js');
  const files = await expand(paths, (name) => name.endsWith('.manifest.json'), 'sheet manifest');
  return Promise.all(files.map(async (file) => {
    try {
      return parseSheetManifestText(await readFile(file, 'utf8'), file);
    } catch (error) {
      if (error instanceof SheetManifestError) throw new UsageError(error.message);
      throw error;
    }
  }));
}

/** The analysis as stored: crops left out (they are re-derivable and would dominate the file). */
function storable(analysis: PhotoAnalysis): PhotoAnalysis {
  return { ...analysis, cells: analysis.cells.map(({ crop: _crop, ...cell }) => cell) };
}

const percent = (value: number | null): string => (value === null ? '–' : `${(100 * value).toFixed(1)}%`);
const epsilonText = (epsilon: number): string => (Number.isNaN(epsilon) ? '?' : Number.isInteger(epsilon * 255) ? `${Math.round(epsilon * 255)}/255` : String(Number(epsilon.toPrecision(3))));

const rejectedText = (c: { correct: number; wrong: number; rejected: number }): string => `${c.rejected}/${c.correct + c.wrong + c.rejected}`;

function summaryTable(rows: ExperimentRow[]): string {
  // A protected model's refusals of the photographed images in columns of their own, apart from the rates.
  const screened = rows.some((r) => r.rejections !== null);
  // Runs attacked with a print survival estimate: the destruction it predicted, beside the measured one.
  const predicted = rows.some((r) => r.predictedDestructionTop1 !== null);
  return formatTable(
    ['method', 'ε', 'case', 'n', 'clean top-1', 'adv top-1', 'photo adv top-1', 'destruction top-1', ...(predicted ? ['predicted top-1'] : []), 'destruction top-5', ...(screened ? ['photo clean rejected', 'photo adv rejected'] : [])],
    rows.map((r) => [r.method, epsilonText(r.epsilon), r.case, r.count, percent(r.digitalClean.top1), percent(r.digitalAdversarial.top1), percent(r.transformedAdversarial.top1), `${percent(r.destructionTop1.rate)} (${r.destructionTop1.destroyed}/${r.destructionTop1.eligible})`, ...(predicted ? [percent(r.predictedDestructionTop1)] : []), `${percent(r.destructionTop5.rate)} (${r.destructionTop5.destroyed}/${r.destructionTop5.eligible})`,
      ...(screened ? (r.rejections ? [rejectedText(r.rejections.transformedClean), rejectedText(r.rejections.transformedAdversarial)] : ['–', '–']) : [])]),
  );
}

export function registerAnalyze(program: Command): void {
  const command = program
    .command('analyze')
    .description('find the sheets in photos, classify every printed cell and report destruction rates (Kurakin et al. 2016)')
    .argument('[photos...]', 'photo files or folders of photos')
    .requiredOption('--sheets <manifest.json...>', 'sheet manifests (or folders of *.manifest.json) written by foolprint sheet')
    .option('--combine <mode>', 'merge several captures of one sheet per cell: vote or mean')
    .option('--out <dir>', 'write <photo>.analysis.json per photo here (replaced as a whole by a re-run)')
    .option('--force', 'replace --out even if it holds files foolprint analyze did not write')
    .option('--json', 'print everything as JSON');
  addModelOptions(command);
  addDetectorOption(command);
  command.action(guarded(async (photoPaths: string[], options: AnalyzeCommandOptions) => {
    // First, before anything is printed (see interruptSignal).
    const signal = interruptSignal();
    if (options.combine !== undefined && options.combine !== 'vote' && options.combine !== 'mean') {
      throw new UsageError(`--combine must be vote or mean, got "${options.combine}"`);
    }
    // `--sheets` is variadic, so "analyze --sheets m.json a.jpg" hands it the photo too: move photos back.
    const isPhoto = (name: string) => PHOTO_EXTENSIONS.has(path.extname(name).toLowerCase());
    const sheetPaths = options.sheets.filter((p) => !isPhoto(p));
    if (sheetPaths.length === 0) throw new UsageError('--sheets needs at least one sheet manifest (sheet.manifest.json) or a folder of them');
    const manifests = await loadManifests(sheetPaths);
    const unchecked = manifests.filter((m) => m.identity === null);
    if (unchecked.length > 0) {
      process.stderr.write(`warning: ${unchecked.length} of ${manifests.length} sheet manifests are version 1 (written before sheet identities): photos of their sheets cannot be checked to show that set\n`);
    }
    const photoArgs = [...photoPaths, ...options.sheets.filter(isPhoto)];
    if (photoArgs.length === 0) throw new UsageError('give the photos to analyze (files or folders), e.g. foolprint analyze photos/ --sheets sheet.manifest.json');
    const photos = await expand(photoArgs, isPhoto, 'photo');
    const output = options.out === undefined ? null : await prepareCliOutput(options.out, 'analyze', options.force);
    // Imported on use: OpenCV, sharp and TF.js would cost every other command a second at start-up.
    const [{ loadOpenCVInNode }, { decodeImageFile }, { analyzePhoto }] = await Promise.all([
      import('../../../app/physical/opencv.node.js'),
      import('../../../app/node/dataset-loader.js'),
      import('../../../app/physical/analyze.js'),
    ]);
    const opencv = await loadOpenCVInNode();
    const pool = await openPool(options);
    const bar = createProgressBar({ json: options.json });
    const results: { file: string; analysis: PhotoAnalysis }[] = [];
    try {
      const info = pool.info().model;
      const k = Math.min(5, info.numClasses);
      for (const [i, file] of photos.entries()) {
        bar.update(i, photos.length, path.basename(file));
        const decoded = await decodeImageFile(file).catch((error: Error) => {
          throw new UsageError(error.message);
        });
        const analysis = await analyzePhoto(
          { data: decoded.data, width: decoded.width, height: decoded.height },
          manifests,
          (crops) => pool.predict(crops, k, { signal }),
          { opencv, inputShape: info.inputShape, keepCrops: false },
        );
        results.push({ file, analysis });
      }
      bar.update(photos.length, photos.length);
      // Written as a whole once every photo is done: never half of one run beside half of another.
      await output?.write(async (staging) => {
        for (const { file, analysis } of results) await writeJsonAtomic(path.join(staging, `${path.parse(file).name}.analysis.json`), { file: path.resolve(file), ...storable(analysis) });
      });
    } finally {
      bar.done();
      await pool.close();
    }

    const mode = options.combine as CombineMode | undefined;
    const combined = mode ? combineCaptures(results.map((r) => r.analysis), mode) : undefined;
    // With --combine one merged capture per sheet counts; otherwise every photo counts on its own.
    const captures: PhotographedCell[][] = combined
      ? combined.map((sheet) => sheet.cells.map((cell) => ({ record: cell.record, top5: cell.captures > 0 ? cell.top5 : undefined, ...(cell.rejected !== undefined ? { rejected: cell.rejected } : {}) })))
      : results.map((r) => r.analysis.cells);
    const rows = experimentTable(samplesFromPhotographs(captures));
    const agreement = digitalAgreement(captures.flat());

    if (options.json) {
      process.stdout.write(JSON.stringify({
        photos: results.map((r) => ({ file: path.resolve(r.file), analysis: storable(r.analysis) })),
        combined: combined?.map((sheet) => ({ sheetId: sheet.sheetId, mode: sheet.mode, captures: sheet.captures.length, cells: sheet.cells })) ?? null,
        agreement,
        table: rows,
      }, null, 2) + '\n');
      return;
    }
    for (const { file, analysis } of results) {
      process.stdout.write(`${path.basename(file)}: ${analysis.status}: ${analysis.message}\n`);
      for (const warning of analysis.warnings) process.stdout.write(`  warning: ${warning}\n`);
    }
    if (combined) for (const sheet of combined) process.stdout.write(`combined ${sheet.captures.length} capture(s) of ${sheet.sheetId} by ${sheet.mode}\n`);
    process.stdout.write(`photographed cells agreeing with their digital top-1: ${agreement.agree}/${agreement.total}\n`);
    if (rows.length > 0) process.stdout.write('\n' + summaryTable(rows) + '\n');
    else process.stdout.write('no adversarial cells with digital predictions were photographed: no destruction rates\n');
    const refused = new Set(['no-sheet', 'unknown-sheet', 'too-few-markers', 'several-sheets']);
    if (results.every((r) => refused.has(r.analysis.status))) process.exitCode = 1;
  }));
}
