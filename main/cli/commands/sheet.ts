/**
 * `foolprint sheet`: lay out an attack run (or a folder of PNGs with a labels CSV) on printable
 * pages with ArUco corner markers: sheet.pdf at exact paper size, sheet.png (sheet-2.png, ...) at the
 * chosen DPI, and one sheet manifest per page for `foolprint analyze`.
 */
import type { Command } from 'commander';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { SheetSource } from '../../../app/node/sheet-sources.js';
import { MAX_SHEET_NUMBER } from '../../../app/physical/markers.js';
import { UsageError, guarded, parseEpsilonList, parsePositiveInt, prepareCliOutput } from '../failure.js';
import { finalOutputPath } from '../../../app/node/output-folder.js';
import { createProgressBar } from '../progress.js';

interface SheetCommandOptions {
  from?: string;
  labels?: string;
  out: string;
  paper: string;
  orientation: string;
  cellMm: string;
  dpi: string;
  pairs?: boolean;
  adversarialOnly?: boolean;
  epsilons?: string;
  minSurvival?: string;
  limit?: string;
  experiment?: string;
  firstSheet: string;
  json?: boolean;
  force?: boolean;
}

function positiveNumber(text: string, what: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new UsageError(`${what} must be a positive number, got "${text}"`);
  return value;
}

export function registerSheet(program: Command): void {
  program
    .command('sheet')
    .description('lay out adversarial examples on printable sheets with ArUco corner markers (PDF, PNG, manifest)')
    .requiredOption('--from <attack folder | record.json | image folder>', 'a `foolprint attack` output, or a folder of PNGs (with --labels)')
    .option('--labels <csv>', 'labels CSV for a folder of images (columns file,label[,kind,method,epsilon,clean,id]; default <folder>/labels.csv)')
    .option('--out <dir>', 'output folder (replaced as a whole by a re-run)', 'foolprint-sheet')
    .option('--force', 'replace --out even if it holds files foolprint sheet did not write')
    .option('--paper <name>', 'a4 or letter', 'a4')
    .option('--orientation <o>', 'portrait or landscape', 'portrait')
    .option('--cell-mm <n>', 'printed size of each image in mm', '30')
    .option('--dpi <n>', 'resolution of the PNG pages', '300')
    .option('--pairs', 'print each clean original beside its adversarial version (Kurakin et al.)')
    .option('--adversarial-only', 'attack runs without --pairs: leave the clean originals out')
    .option('--epsilons <list>', 'attack runs: only these ε (e.g. 8/255,16/255)')
    .option('--min-survival <p>', 'attack runs with --survival: only adversarial images whose print survival estimate is at least p (0..1), with their originals in --pairs')
    .option('--limit <n>', 'only the first n images')
    .option('--experiment <name>', 'name printed on the sheet and stored in the manifest')
    .option('--first-sheet <n>', `sheet number of the first page (0..${MAX_SHEET_NUMBER}; sets the marker ids)`, '0')
    .option('--json', 'print the manifests as JSON')
    .action(guarded(async (options: SheetCommandOptions) => {
      // Imported here: canvas, sharp and zod cost ~300 ms of start-up that --help and the other commands do not need.
      const [{ SheetRenderError }, { SheetSourceError }, { LayoutError }, { SheetPlanError }] = await Promise.all([
        import('../../../app/node/sheet-render.js'), import('../../../app/node/sheet-sources.js'),
        import('../../../app/physical/layout.js'), import('../../../app/physical/sheet-manifest.js'),
      ]);
      try {
        await runSheet(options);
      } catch (error) {
        // What the user got wrong (a bad CSV, a cell too big for the paper) exits as a usage error.
        if (error instanceof SheetSourceError || error instanceof SheetPlanError || error instanceof LayoutError || error instanceof SheetRenderError) {
          throw new UsageError(error.message);
        }
        throw error;
      }
    }));
}

async function runSheet(options: SheetCommandOptions): Promise<void> {
  const [{ MIN_PNG_DPI, renderSheets }, { loadAttackSheetSource, loadFolderSheetSource }] = await Promise.all([
    import('../../../app/node/sheet-render.js'), import('../../../app/node/sheet-sources.js'),
  ]);
  const paper = options.paper.toLowerCase();
  if (paper !== 'a4' && paper !== 'letter') throw new UsageError(`--paper must be a4 or letter, got "${options.paper}"`);
  const orientation = options.orientation.toLowerCase();
  if (orientation !== 'portrait' && orientation !== 'landscape') throw new UsageError(`--orientation must be portrait or landscape, got "${options.orientation}"`);
  const cellMm = positiveNumber(options.cellMm, '--cell-mm');
  const dpi = positiveNumber(options.dpi, '--dpi');
  if (dpi < MIN_PNG_DPI) throw new UsageError(`--dpi must be at least ${MIN_PNG_DPI}, got ${options.dpi}`);
  const limit = options.limit === undefined ? undefined : parsePositiveInt(options.limit, '--limit');
  const minSurvival = options.minSurvival === undefined ? undefined : Number(options.minSurvival);
  if (minSurvival !== undefined && !(options.minSurvival!.trim() !== '' && minSurvival >= 0 && minSurvival <= 1)) {
    throw new UsageError(`--min-survival must be a share from 0 to 1, got "${options.minSurvival}"`);
  }
  const firstSheetNumber = Number(options.firstSheet);
  if (!Number.isInteger(firstSheetNumber) || firstSheetNumber < 0 || firstSheetNumber > MAX_SHEET_NUMBER) {
    throw new UsageError(`--first-sheet must be a whole number from 0 to ${MAX_SHEET_NUMBER}, got "${options.firstSheet}"`);
  }
  const from = options.from as string;
  const info = await stat(from).catch(() => null);
  if (!info) throw new UsageError(`--from ${from} does not exist`);
  const output = await prepareCliOutput(options.out, 'sheet', options.force);

  const isAttackRun = info.isFile() || (await stat(path.join(from, 'record.json')).catch(() => null)) !== null;
  let source: SheetSource;
  if (isAttackRun) {
    if (options.labels) throw new UsageError('--labels is for a folder of images; --from is an attack run with its own labels (record.json)');
    source = await loadAttackSheetSource(from, {
      pairs: options.pairs,
      adversarialOnly: options.adversarialOnly,
      epsilons: options.epsilons === undefined ? undefined : parseEpsilonList(options.epsilons, '--epsilons'),
      minSurvival,
      limit,
    });
  } else {
    if (minSurvival !== undefined) throw new UsageError('--min-survival selects from an attack run with --survival estimates, not a folder of images');
    if (options.epsilons || options.adversarialOnly) throw new UsageError('--epsilons and --adversarial-only select from an attack run; for a folder, list the images in the labels CSV');
    source = await loadFolderSheetSource(from, { labels: options.labels, pairs: options.pairs, limit, experiment: options.experiment });
  }

  const bar = createProgressBar({ json: options.json });
  const rendered = await output.write(async (staging) => {
    const written = await renderSheets(
    {
      images: source.images,
      shape: source.shape,
      records: source.records,
      options: {
        paper,
        orientation,
        cellMm,
        dpi,
        pairs: options.pairs ?? false,
        experiment: options.experiment ?? source.experiment,
        modelId: source.modelId,
        classNames: source.classNames,
        source: source.source,
        firstSheetNumber,
        onProgress: (done, total, label) => bar.update(done, total, label),
      },
    },
    staging,
    );
    const moved = (file: string) => finalOutputPath(output, staging, file);
    return { ...written, pdfPath: moved(written.pdfPath), pngPaths: written.pngPaths.map(moved), manifestPaths: written.manifestPaths.map(moved) };
  });
  bar.done();

  if (options.json) {
    process.stdout.write(JSON.stringify({ notes: rendered.notes, pdf: rendered.pdfPath, png: rendered.pngPaths, manifests: rendered.manifestPaths, sheets: rendered.manifests }, null, 2) + '\n');
    return;
  }
  for (const note of rendered.notes) process.stderr.write(`note: ${note}\n`);
  const { layout } = rendered;
  const cells = rendered.manifests.reduce((sum, m) => sum + m.cells.length, 0);
  process.stdout.write(
    `${cells} images on ${rendered.manifests.length} ${paper} ${orientation} page(s), ${layout.columns}x${layout.rows} ${options.pairs ? 'pairs' : 'cells'} of ${cellMm} mm per page\n`,
  );
  for (const manifest of rendered.manifests) {
    const ids = manifest.geometry.markers.map((m) => m.id).join(',');
    process.stdout.write(`  page ${manifest.page}: sheet ${manifest.sheetId} (markers ${ids}, set identity ${manifest.identity}), ${manifest.cells.length} images\n`);
  }
  process.stdout.write(`wrote ${rendered.pdfPath}, ${rendered.pngPaths.map((p) => path.basename(p)).join(', ')} and ${rendered.manifestPaths.map((p) => path.basename(p)).join(', ')}\n`);
  process.stdout.write('print the PDF at 100 % (no "fit to page"): the bar in the footer must measure 50 mm\n');
}
