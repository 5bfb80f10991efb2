/**
 * The physical half of the service: sheets (preview, export, files), capture (live crops, stills and
 * imported photos against the experiment's sheets) and compare (digital vs captured, destruction rate,
 * CSV/JSON/HTML export). See service.ts for the folder layout inside an experiment.
 */
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { AttackRun } from '../api/attacks.js';
import { captureInfoSchema } from '../api/capture.js';
import type { CaptureInfo } from '../api/capture.js';
import type { Combine, CompareReport } from '../api/compare.js';
import type { SheetSet } from '../api/sheets.js';
import { ApiError } from '../api/errors.js';
import { analyzePhoto } from '../physical/analyze.js';
import type { PhotoAnalysis } from '../physical/analyze.js';
import { MAX_SHEET_NUMBER } from '../physical/markers.js';
import { loadOpenCVInNode } from '../physical/opencv.node.js';
import { parseSheetManifestText, planSheets } from '../physical/sheet-manifest.js';
import type { SheetManifest } from '../physical/sheet-manifest.js';
import type { Experiment } from './experiment-store.js';
import { ConfinedPathError, confinedPath } from './confined-path.js';
import { imageCanvases, renderSheetCanvas, renderSheets } from './sheet-render.js';
import type { SheetRenderOptions } from './sheet-render.js';
import { SheetSourceError, loadAttackSheetSource } from './sheet-sources.js';
import { bytesDataUrl, decodePhoto, pngDataUrl } from './service-images.js';
import { compareCaptures, compareCells, compareCsv, compareHtml, compareRates } from './service-compare.js';
import type { StoredCapture } from './service-compare.js';
import { storedZip } from './stored-zip.js';
import { foldersWith, newId } from './service.js';
import type { Handlers, ServiceCore } from './service.js';

type PhysicalMethods = 'sheets.preview' | 'sheets.export' | 'sheets.list' | 'sheets.file' | 'capture.manifests' | 'capture.classifyCrops' | 'capture.analyzePhoto' | 'capture.list' | 'capture.delete' | 'compare.get' | 'compare.export';

const SHEET_SET_FILE = 'sheet-set.json';
const CAPTURE_FILE = 'capture.json';
const ANALYSIS_FILE = 'analysis.json';

const photoExtensions: Record<string, string> = { 'image/jpeg': 'jpg', 'image/png': 'png', 'image/webp': 'webp', 'image/tiff': 'tif' };

export function createPhysicalHandlers(core: ServiceCore, readRun: (target: Experiment, runId: string) => Promise<AttackRun>): Pick<Handlers, PhysicalMethods> {
  /**
   * The experiment's sheet sets. Their files are stored as absolute paths (the API hands them to the
   * desktop host to print): each must lie in its own set's folder, else the set is refused by name.
   */
  async function sheetSets(target: Experiment): Promise<SheetSet[]> {
    const ids = await foldersWith(target.paths.sheets, SHEET_SET_FILE);
    return Promise.all(
      ids.map(async (id) => {
        const folder = path.join(target.paths.sheets, id);
        const set = JSON.parse(await readFile(path.join(folder, SHEET_SET_FILE), 'utf8')) as SheetSet;
        const inside = (file: string, what: string) => confinedPath(folder, file, { what: `${what} of sheet set "${id}"`, folderName: `its folder (${SHEET_SET_FILE} edited?)`, allowMissing: true });
        return {
          ...set,
          // The folder's name, not the JSON's: an edited id must not name another folder.
          sheetSetId: id,
          pdfPath: await inside(set.pdfPath, 'the PDF'),
          pngPaths: await Promise.all(set.pngPaths.map((file) => inside(file, 'a PNG page'))),
          manifestPaths: await Promise.all(set.manifestPaths.map((file) => inside(file, 'a sheet manifest'))),
        };
      }),
    );
  }

  async function sheetManifests(target: Experiment): Promise<SheetManifest[]> {
    const manifests: SheetManifest[] = [];
    for (const set of await sheetSets(target)) {
      for (const file of set.manifestPaths) manifests.push(parseSheetManifestText(await readFile(file, 'utf8'), file));
    }
    return manifests;
  }

  /**
   * The digital image a photographed cell was printed from: `cell.record.file` (from the capture's
   * analysis.json) in the folder of the attack run the sheet came from (the sheet manifest's
   * source, which must be a run of this experiment). Null when the sheet or the file is gone.
   */
  async function digitalImage(target: Experiment, manifest: SheetManifest | undefined, file: string | null, captureId: string): Promise<string | null> {
    if (!manifest?.source.path || !file) return null;
    const what = (name: string) => ({ what: name, folderName: `the experiment's attack runs (capture "${captureId}", sheet ${manifest.sheetId})`, allowMissing: true });
    const record = await confinedPath(target.paths.images, manifest.source.path, what('the sheet\'s source record'));
    const image = await confinedPath(path.dirname(record), file, { ...what(`the cell image`), folderName: `its attack run's folder (capture "${captureId}": analysis.json edited?)` });
    return readFile(image).then((b) => bytesDataUrl(b), () => null);
  }

  /** The images and sheet options of a preview or an export. */
  async function sheetInput(params: Parameters<Handlers['sheets.export']>[0], target: Experiment) {
    const run = await readRun(target, params.runId);
    const source = await loadAttackSheetSource(path.join(core.runFolder(target, run.runId), 'record.json'), { pairs: params.pairs, epsilons: params.epsilons, limit: params.limit, minSurvival: params.minSurvival }).catch((error: unknown) => {
      // What the choices select (no estimates, nothing left above the threshold) is the caller's to change.
      if (error instanceof SheetSourceError && params.minSurvival !== undefined) throw new ApiError('invalid-input', error.message);
      throw error;
    });
    // Every set starts at sheet 0: its pages are told apart by their sheet numbers (corner ids), and the
    // sets of an experiment by the random identity each set prints (sheet-identity.ts).
    const firstSheetNumber = 0;
    const options: SheetRenderOptions = {
      paper: params.paper,
      orientation: params.orientation,
      cellMm: params.cellMm,
      pairs: params.pairs,
      dpi: params.dpi,
      experiment: target.manifest.name,
      modelId: run.modelId,
      classNames: source.classNames,
      source: source.source,
      firstSheetNumber,
    };
    return { source, options, firstSheetNumber };
  }

  function checkSheetNumbers(first: number, pages: number): void {
    if (first + pages - 1 > MAX_SHEET_NUMBER) {
      throw new ApiError('invalid-input', `these images need ${pages} sheet pages; the markers can tell ${MAX_SHEET_NUMBER + 1 - first} pages of a set apart: export fewer images per set (limit, ε) or a smaller cell`);
    }
  }

  async function storedCaptures(target: Experiment): Promise<StoredCapture[]> {
    const ids = await foldersWith(target.paths.captures, CAPTURE_FILE);
    return Promise.all(
      ids.map(async (id) => {
        const folder = path.join(target.paths.captures, id);
        // Parsed, not cast: captures stored before `source` existed get its default ('file').
        const info = captureInfoSchema.parse(JSON.parse(await readFile(path.join(folder, CAPTURE_FILE), 'utf8')));
        const analysis = JSON.parse(await readFile(path.join(folder, ANALYSIS_FILE), 'utf8')) as PhotoAnalysis;
        return { info, analysis };
      }),
    );
  }

  async function report(experimentId: string, prefilterConfidence: number, thumbnails: boolean, combine: Combine): Promise<CompareReport> {
    const target = await core.experiment(experimentId);
    const captures = await storedCaptures(target);
    const thumbs = new Map<string, { digital: string | null; captured: string | null }>();
    const manifests = new Map((await sheetManifests(target)).map((m) => [m.sheetId, m]));
    // Labels are the sheets' model's: named as its manifest names them, not as today's chosen model does.
    const classNames = captures.map((c) => (c.analysis.sheetId === null ? null : (manifests.get(c.analysis.sheetId)?.classNames ?? null))).find((names) => names !== null) ?? null;
    if (thumbnails) {
      for (const capture of captures) {
        const manifest = capture.analysis.sheetId === null ? undefined : manifests.get(capture.analysis.sheetId);
        for (const cell of capture.analysis.cells) {
          const digital = await digitalImage(target, manifest, cell.record.file, capture.info.captureId);
          const crop = cell.crop;
          const captured = crop ? await pngDataUrl(Float32Array.from(crop.pixels), crop.width, crop.height, crop.channels) : null;
          thumbs.set(`${capture.info.captureId}/${cell.index}`, { digital, captured });
        }
      }
    }
    return {
      experimentId,
      captures: compareCaptures(captures),
      cells: compareCells(captures, (capture, cell) => thumbs.get(`${capture.info.captureId}/${cell.index}`) ?? { digital: null, captured: null }, combine),
      rates: compareRates(captures, prefilterConfidence, combine),
      combine,
      prefilterConfidence,
      classNames: classNames ? [...classNames] : null,
    };
  }

  return {
    'sheets.preview': async (params) => {
      const target = await core.experiment(params.experimentId);
      const { source, options, firstSheetNumber } = await sheetInput(params, target);
      const plan = planSheets(source.records, [source.shape[1], source.shape[2], source.shape[3]], { ...options, dpi: params.previewDpi });
      checkSheetNumbers(firstSheetNumber, plan.manifests.length);
      if (params.page > plan.manifests.length) throw new ApiError('invalid-input', `page: the sheets have ${plan.manifests.length} page(s), not ${params.page}`);
      const canvas = renderSheetCanvas(plan, params.page - 1, imageCanvases(source.images, source.shape), params.previewDpi);
      return {
        pageCount: plan.manifests.length,
        cellCount: source.records.length,
        pageMm: { ...plan.layout.page },
        cellsPerPage: plan.layout.cellsPerPage,
        png: bytesDataUrl(canvas.toBuffer('image/png')),
        previewDpi: params.previewDpi,
      };
    },
    'sheets.export': async (params) => {
      const target = await core.experiment(params.experimentId);
      await readRun(target, params.runId);
      return core.jobs.start('sheetExport', 'Exporting sheets', (context) =>
        core.inExperimentRun(target, 'sheet', async () => {
          const { source, options, firstSheetNumber } = await sheetInput(params, target);
          const sheetSetId = newId('sheets');
          const folder = path.join(target.paths.sheets, sheetSetId);
          const plan = planSheets(source.records, [source.shape[1], source.shape[2], source.shape[3]], options);
          checkSheetNumbers(firstSheetNumber, plan.manifests.length);
          context.signal.throwIfAborted();
          const rendered = await renderSheets(
            { images: source.images, shape: source.shape, records: source.records, options: { ...options, onProgress: (done, total, label) => context.progress(done, total, label) } },
            folder,
          );
          const set: SheetSet = {
            sheetSetId,
            experimentId: target.id,
            runId: params.runId,
            createdAt: new Date().toISOString(),
            pageCount: rendered.manifests.length,
            cellCount: source.records.length,
            sheetIds: rendered.manifests.map((m) => m.sheetId),
            pdfPath: rendered.pdfPath,
            pngPaths: rendered.pngPaths,
            manifestPaths: rendered.manifestPaths,
          };
          // Written last: a sheet set without it was interrupted and is not listed.
          await target.writeJson(`sheets/${sheetSetId}/${SHEET_SET_FILE}`, set);
          return set;
        }),
        params.experimentId,
      );
    },
    'sheets.list': async ({ experimentId }) => sheetSets(await core.experiment(experimentId)),
    'sheets.file': async ({ experimentId, sheetSetId, file, page }) => {
      const target = await core.experiment(experimentId);
      const set = (await sheetSets(target)).find((s) => s.sheetSetId === sheetSetId);
      if (!set) throw new ApiError('not-found', `no sheet set "${sheetSetId}" in experiment "${experimentId}"`);
      // The folder found by its name: sheetSetId is the folder's (sheetSets), never a path from the JSON.
      const folder = path.join(target.paths.sheets, set.sheetSetId);
      const confined = (pick: string, what: string) =>
        confinedPath(folder, pick, { what, folderName: `sheet set "${sheetSetId}"'s folder` }).catch((error: unknown) => {
          if (error instanceof ConfinedPathError && error.reason === 'missing') throw new ApiError('not-found', error.message);
          throw error;
        });
      if (file === 'manifests' && set.manifestPaths.length > 1) {
        const entries = await Promise.all(set.manifestPaths.map(async (m) => ({ name: path.basename(m), data: await readFile(await confined(m, 'a sheet manifest')) })));
        return { name: 'sheet-manifests.zip', mimeType: 'application/zip', base64: storedZip(entries).toString('base64') };
      }
      const pick = file === 'pdf' ? set.pdfPath : file === 'png' ? set.pngPaths[page - 1] : set.manifestPaths[file === 'manifests' ? 0 : page - 1];
      if (!pick) throw new ApiError('not-found', `sheet set "${sheetSetId}" has no ${file} for page ${page}`);
      const mimeType = file === 'pdf' ? 'application/pdf' : file === 'png' ? 'image/png' : 'application/json';
      const real = await confined(pick, `the ${file} file`);
      // Pages download as sheet-1.png, sheet-2.png, … whatever the files on disk are called.
      const name = file === 'png' ? `sheet-${page}.png` : path.basename(real);
      return { name, mimeType, base64: (await readFile(real)).toString('base64') };
    },

    'capture.manifests': async ({ experimentId }) => sheetManifests(await core.experiment(experimentId)),
    'capture.classifyCrops': async ({ modelId, crops, dtype, count, height, width, channels }) => {
      const started = performance.now();
      const pool = await core.livePool(modelId);
      const model = pool.info().model;
      const [h, w, c] = model.inputShape;
      if (count === 0) return { top5: [], ms: 0 };
      if (h !== height || w !== width || c !== channels) throw new ApiError('invalid-input', `crops are ${height}x${width}x${channels} but model "${modelId}" takes ${h}x${w}x${c}`);
      const bytes = Buffer.from(crops, 'base64');
      const values = count * height * width * channels;
      const expected = values * (dtype === 'float32' ? 4 : 1);
      if (bytes.length !== expected) throw new ApiError('invalid-input', `crops: ${bytes.length} bytes, expected ${expected} for ${count} ${dtype} crops of ${height}x${width}x${channels}`);
      const pixels = new Float32Array(values);
      if (dtype === 'float32') {
        // Copy through a fresh buffer: base64-decoded bytes need not be 4-byte aligned.
        new Uint8Array(pixels.buffer).set(bytes);
      } else {
        for (let i = 0; i < values; i++) pixels[i] = bytes[i] / 255;
      }
      const k = Math.min(5, model.numClasses);
      const top = await pool.predict(pixels, k);
      const top5 = Array.from({ length: count }, (_, i) => Array.from({ length: k }, (_, j) => ({ label: top.labels[i * top.k + j], probability: Math.min(1, Math.max(0, top.probs[i * top.k + j])) })));
      return { top5, ms: performance.now() - started };
    },
    'capture.analyzePhoto': async ({ experimentId, modelId, photo, source }) => {
      const target = await core.experiment(experimentId);
      const manifests = await sheetManifests(target);
      if (manifests.length === 0) throw new ApiError('invalid-input', `experiment "${experimentId}" has no exported sheets yet: export a sheet before analysing photos of it`);
      const chosenModel = modelId ?? target.manifest.modelId ?? manifests[0].modelId;
      if (!chosenModel) throw new ApiError('invalid-input', 'modelId: no model given and the experiment names none');
      return core.jobs.start('photoAnalysis', `Analysing ${photo.name}`, (context) =>
        core.inExperimentRun(target, 'capture', async () => {
          context.progress(0, 3, 'decoding photo');
          const image = await decodePhoto(Buffer.from(photo.base64, 'base64'), photo.name);
          const pool = await core.pool(chosenModel);
          const inputShape = pool.info().model.inputShape;
          context.signal.throwIfAborted();
          context.progress(1, 3, 'finding markers');
          // require() rather than import(): the 10 MB OpenCV.js stalls under Vitest's module runner (opencv.node.ts).
          const opencv = await loadOpenCVInNode();
          const analysis = await analyzePhoto(image, manifests, (crops) => pool.predict(crops, Math.min(5, pool.info().model.numClasses), { signal: context.signal }), { inputShape, opencv });
          context.progress(2, 3, 'saving');
          const captureId = newId('capture');
          const extension = photoExtensions[photo.mimeType] ?? (path.extname(photo.name).slice(1).toLowerCase() || 'bin');
          const matched = analysis.sheetId === null ? undefined : manifests.find((m) => m.sheetId === analysis.sheetId);
          const info: CaptureInfo = {
            captureId,
            experimentId: target.id,
            createdAt: new Date().toISOString(),
            fileName: photo.name,
            source,
            status: analysis.status,
            message: analysis.message,
            sheetId: analysis.sheetId,
            cellCount: matched?.cells.length ?? 0,
            analysedCells: analysis.cells.filter((c) => c.top5 !== undefined).length,
            missingMarkers: analysis.missingMarkers,
            reprojectionErrorPx: analysis.reprojectionError?.mean ?? null,
            warnings: analysis.warnings,
          };
          await target.writeFile(`captures/${captureId}/photo.${extension}`, Buffer.from(photo.base64, 'base64'));
          await target.writeJson(`captures/${captureId}/${ANALYSIS_FILE}`, analysis);
          await target.writeJson(`captures/${captureId}/${CAPTURE_FILE}`, info);
          context.progress(3, 3, 'done');
          core.emit('frameAnalyzed', { experimentId: target.id, captureId, status: info.status, message: info.message });
          return info;
        }),
        experimentId,
      );
    },
    'capture.list': async ({ experimentId }) => (await storedCaptures(await core.experiment(experimentId))).map((c) => c.info),
    'capture.delete': async ({ experimentId, captureId }) => {
      const target = await core.experiment(experimentId);
      const folder = path.join(target.paths.captures, captureId);
      const exists = (await foldersWith(target.paths.captures, CAPTURE_FILE)).includes(captureId);
      if (exists) await rm(folder, { recursive: true, force: true });
      return { deleted: exists };
    },

    'compare.get': async ({ experimentId, prefilterConfidence, thumbnails, combine }) => report(experimentId, prefilterConfidence, thumbnails, combine),
    'compare.export': async ({ experimentId, prefilterConfidence, format, table, combine }) => {
      const target = await core.experiment(experimentId);
      const data = await report(experimentId, prefilterConfidence, format === 'html', combine);
      const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
      const name = `compare-${stamp}${format === 'csv' && table !== 'both' ? `-${table}` : ''}.${format}`;
      const text = format === 'csv' ? compareCsv(data, table) : format === 'json' ? `${JSON.stringify(data, null, 2)}\n` : compareHtml(data, `Foolprint: ${target.manifest.name}`);
      const file = await target.writeFile(`results/${name}`, text);
      const mimeType = format === 'csv' ? 'text/csv' : format === 'json' ? 'application/json' : 'text/html';
      return { name, mimeType, base64: Buffer.from(text, 'utf8').toString('base64'), path: file };
    },
  };
}
