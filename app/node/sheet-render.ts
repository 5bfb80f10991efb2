/**
 * Draws planned sheets (app/physical/sheet-manifest.ts `planSheets`) with node-canvas onto a PDF at
 * exact physical size and onto PNG pages at a chosen DPI, from one drawing routine, and writes them
 * with their manifests atomically.
 *
 * Two node-canvas (cairo 1.16) behaviours shape this file, both checked with poppler's pdfimages/pdfinfo:
 * - `drawImage(img, x, y, w, h)` with w, h ≠ the image size resamples the image into a new bitmap at
 *   72 ppi before embedding (an 85x85 copy of a 28x28 MNIST digit), the "pre-upscaled copy" that prints
 *   soft. Drawing at native size under a scale transform instead embeds the 28x28 pixels losslessly
 *   (Flate) and, with imageSmoothingEnabled = false, marks them `/Interpolate false`, so the printer
 *   or viewer enlarges them with hard pixel edges.
 * - A PDF canvas has whole-point sizes only (A4 would become 595 x 841 pt). We draw on a canvas rounded
 *   up (596 x 842) and then set each page's MediaBox to the exact size, anchored at the top edge where
 *   cairo's y axis starts ([0 0.1102 595.2756 842]), and rewrite the cross-reference table.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { createCanvas } from 'canvas';
import type { Canvas, CanvasRenderingContext2D } from 'canvas';
import { writeFileAtomic, writeJsonAtomic } from './atomic-write.js';
import { MM_PER_INCH, POINTS_PER_MM, mmToPixels, sheetCaption } from '../physical/layout.js';
import type { RectMm, SheetLayout } from '../physical/layout.js';
import { MARKER_DICTIONARY, MARKER_MODULES, markerModules } from '../physical/markers.js';
import { planSheets, sheetFileNames } from '../physical/sheet-manifest.js';
import type { SheetCellSource, SheetManifest, SheetPlan, SheetPlanOptions } from '../physical/sheet-manifest.js';

export class SheetRenderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SheetRenderError';
  }
}

export interface SheetRenderOptions extends SheetPlanOptions {
  /** Write PNG pages too (default true; the manifest names its PNG either way). */
  png?: boolean;
  /** Called after each page is drawn (PDF pages first, then PNG pages). */
  onProgress?: (done: number, total: number, label: string) => void;
}

export interface SheetRenderInput {
  /** NHWC pixels: floats in [0,1] (rounded to 8 bits as `round(x·255)`, the quantized view) or bytes 0..255. */
  images: Float32Array | Uint8Array;
  /** [N, height, width, channels], channels 1 or 3. */
  shape: [number, number, number, number];
  /** One per image, same order; in pairs mode alternating clean, adversarial. */
  records: SheetCellSource[];
  options: SheetRenderOptions;
}

export interface RenderedSheets {
  /** What the user should know (e.g. the PDF page could only be sized to whole points). */
  notes: string[];
  pdfPath: string;
  pngPaths: string[];
  manifestPaths: string[];
  manifests: SheetManifest[];
  layout: SheetLayout;
}

/** Cell border: thin and mid-grey, so it frames the cell without reading as part of the image. */
const BORDER_MM = 0.2;
const BORDER_COLOUR = '#808080';
const FONT = 'sans-serif';

/** Each image as its own small canvas at native size (what gets embedded), for `renderSheetPdf` / `renderSheetCanvas`. */
export function imageCanvases(images: Float32Array | Uint8Array, shape: [number, number, number, number]): Canvas[] {
  const [count, height, width, channels] = shape;
  if (![count, height, width].every((n) => Number.isInteger(n) && n > 0) || (channels !== 1 && channels !== 3)) {
    throw new SheetRenderError(`image shape must be [N, height, width, 1 or 3], got [${shape.join(', ')}]`);
  }
  if (images.length !== count * height * width * channels) {
    throw new SheetRenderError(`images hold ${images.length} values, shape [${shape.join(', ')}] needs ${count * height * width * channels}`);
  }
  const toByte = images instanceof Uint8Array ? (v: number) => v : (v: number) => Math.round(Math.min(1, Math.max(0, v)) * 255);
  const canvases: Canvas[] = [];
  for (let n = 0; n < count; n++) {
    const canvas = createCanvas(width, height);
    const context = canvas.getContext('2d');
    const data = context.createImageData(width, height);
    for (let p = 0; p < width * height; p++) {
      const base = (n * width * height + p) * channels;
      for (let k = 0; k < 3; k++) data.data[4 * p + k] = toByte(images[base + (channels === 3 ? k : 0)]);
      data.data[4 * p + 3] = 255;
    }
    context.putImageData(data, 0, 0);
    canvases.push(canvas);
  }
  return canvases;
}

/** Text fitted into a box: `sizeMm` high at most, shrunk so it never runs wider than the box. */
function fitText(context: CanvasRenderingContext2D, text: string, box: RectMm, sizeMm: number, scale: number, align: 'left' | 'center' | 'right' = 'center'): void {
  let size = sizeMm * scale;
  context.font = `${size}px ${FONT}`;
  const width = context.measureText(text).width;
  if (width > box.width * scale) {
    size *= (box.width * scale) / width;
    context.font = `${size}px ${FONT}`;
  }
  context.textAlign = align;
  context.textBaseline = 'middle';
  const x = align === 'left' ? box.x : align === 'right' ? box.x + box.width : box.x + box.width / 2;
  context.fillText(text, x * scale, (box.y + box.height / 2) * scale);
}

/**
 * One ArUco marker: one black square, then every white module in ONE path and one fill, so adjacent
 * modules join without the faint anti-aliasing seams separate fills leave (a seam can break a bit).
 */
function drawMarker(context: CanvasRenderingContext2D, id: number, topLeft: { x: number; y: number }, side: number, scale: number): void {
  const module = side / MARKER_MODULES;
  context.fillStyle = '#000000';
  context.fillRect(topLeft.x * scale, topLeft.y * scale, side * scale, side * scale);
  const modules = markerModules(id);
  context.beginPath();
  for (let row = 0; row < MARKER_MODULES; row++) {
    for (let column = 0; column < MARKER_MODULES; column++) {
      if (modules[row * MARKER_MODULES + column]) context.rect((topLeft.x + column * module) * scale, (topLeft.y + row * module) * scale, module * scale, module * scale);
    }
  }
  context.fillStyle = '#ffffff';
  context.fill();
}

/**
 * Draws one page in device units, `scale` device units per mm (72/25.4 for PDF points, dpi/25.4 for
 * pixels). `cellImages[c]` is the image of cell c.
 */
function drawSheetPage(context: CanvasRenderingContext2D, layout: SheetLayout, manifest: SheetManifest, cellImages: Canvas[], scale: number): void {
  context.save();
  context.fillStyle = '#ffffff';
  context.fillRect(0, 0, layout.page.width * scale, layout.page.height * scale);

  for (const marker of [...manifest.geometry.markers, ...manifest.geometry.identityMarkers]) drawMarker(context, marker.id, marker.cornersMm[0], marker.cornersMm[2].x - marker.cornersMm[0].x, scale);

  context.fillStyle = '#000000';
  const header = layout.header;
  const caption = sheetCaption({ experiment: manifest.experiment, modelId: manifest.modelId, createdAt: manifest.createdAt, page: manifest.page, pageCount: manifest.pageCount });
  fitText(context, caption, { ...header, height: header.height / 2 }, 4, scale);
  fitText(context, `sheet ${manifest.sheetId}`, { ...header, y: header.y + header.height / 2, height: header.height / 2 }, 3, scale);

  // Footer: the set's identity and the corner ids (for people: the markers say the same to the
  // analysis), and a 50 mm bar to check the print was not scaled ("fit to page").
  const footer = layout.footer;
  const ids = manifest.geometry.markers.map((m) => m.id);
  const identity = manifest.identity === null ? '' : `set ${manifest.identity} · `;
  fitText(context, `${identity}${MARKER_DICTIONARY} ${ids.join(',')} · print at 100 %`, { ...footer, height: footer.height / 2 }, 2.6, scale);
  const barMm = Math.min(50, footer.width - 2);
  const barX = footer.x + (footer.width - barMm) / 2;
  const barY = footer.y + footer.height * 0.62;
  context.fillRect(barX * scale, barY * scale, barMm * scale, 0.6 * scale);
  for (const x of [barX, barX + barMm]) context.fillRect((x - 0.15) * scale, (barY - 1) * scale, 0.3 * scale, 2.6 * scale);
  fitText(context, `this bar measures ${barMm} mm`, { x: footer.x, y: barY + 1, width: footer.width, height: footer.y + footer.height - barY - 1 }, 2.4, scale);

  manifest.cells.forEach((cell, c) => {
    const image = cellImages[c];
    const border = cell.borderRectMm;
    context.strokeStyle = BORDER_COLOUR;
    context.lineWidth = BORDER_MM * scale;
    context.strokeRect(border.x * scale, border.y * scale, border.width * scale, border.height * scale);

    // Native-size drawImage under a scale transform: see the file comment (lossless, no resampling).
    const rect = cell.imageRectMm;
    context.save();
    context.imageSmoothingEnabled = false;
    context.translate(rect.x * scale, rect.y * scale);
    context.scale((rect.width * scale) / image.width, (rect.height * scale) / image.height);
    context.drawImage(image, 0, 0);
    context.restore();

    context.fillStyle = '#000000';
    fitText(context, cell.caption, cell.captionRectMm, 2.4, scale);
  });
  context.restore();
}

function formatPdfNumber(value: number): string {
  return String(Math.round(value * 10000) / 10000);
}

/**
 * Sets every page's MediaBox of a cairo PDF to `width` x `height` pt, keeping the top edge at the
 * canvas height (cairo maps its y = 0 there), and rebuilds the cross-reference table so byte offsets
 * stay right. Only for cairo's classic xref layout; anything else is an error, not a silent guess.
 */
export function setPdfPageSize(pdf: Buffer, width: number, height: number): Buffer {
  const text = pdf.toString('latin1');
  const xrefAt = text.lastIndexOf('\nxref\n') + 1;
  const startxref = /startxref\s+(\d+)\s+%%EOF\s*$/.exec(text);
  if (xrefAt <= 0 || !startxref || Number(startxref[1]) !== xrefAt) throw new SheetRenderError('unexpected PDF layout from cairo: no classic xref table');
  const header = /^xref\n0 (\d+)\n/.exec(text.slice(xrefAt));
  if (!header) throw new SheetRenderError('unexpected PDF layout from cairo: bad xref header');
  const count = Number(header[1]);
  const entriesAt = xrefAt + header[0].length;
  const offsets: number[] = [];
  for (let i = 0; i < count; i++) offsets.push(Number(text.slice(entriesAt + 20 * i, entriesAt + 20 * i + 10)));
  const trailer = text.slice(entriesAt + 20 * count, startxref.index);

  const edits: { at: number; delta: number }[] = [];
  const body = text.slice(0, xrefAt).replace(/\/MediaBox \[ 0 0 (\d+(?:\.\d+)?) (\d+(?:\.\d+)?) \]/g, (match, _w: string, canvasHeight: string, at: number) => {
    const top = Number(canvasHeight);
    const replacement = `/MediaBox [ 0 ${formatPdfNumber(top - height)} ${formatPdfNumber(width)} ${formatPdfNumber(top)} ]`;
    edits.push({ at, delta: replacement.length - match.length });
    return replacement;
  });
  if (edits.length === 0) throw new SheetRenderError('unexpected PDF layout from cairo: no MediaBox');
  const shift = (offset: number) => offset + edits.filter((edit) => edit.at < offset).reduce((sum, edit) => sum + edit.delta, 0);
  const entries = offsets.map((offset, i) => `${String(i === 0 ? offset : shift(offset)).padStart(10, '0')} ${i === 0 ? '65535 f' : '00000 n'} \n`);
  const out = `${body}xref\n0 ${count}\n${entries.join('')}${trailer}startxref\n${body.length}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}

function pageImages(plan: SheetPlan, page: number, canvases: Canvas[]): Canvas[] {
  return plan.imageIndex[page].map((i) => canvases[i]);
}

/**
 * All pages as one PDF at exact paper size. Should a future cairo write a PDF layout `setPdfPageSize`
 * does not know, the page keeps cairo's whole-point size (at most 1 pt, 0.35 mm, too large at the
 * bottom/right; every position from the top-left corner stays exact) and `onNote` says so.
 */
export function renderSheetPdf(plan: SheetPlan, canvases: Canvas[], onPage?: (page: number) => void, onNote?: (note: string) => void): Buffer {
  const scale = POINTS_PER_MM;
  const width = plan.layout.page.width * scale;
  const height = plan.layout.page.height * scale;
  const canvas = createCanvas(Math.ceil(width), Math.ceil(height), 'pdf');
  const context = canvas.getContext('2d');
  plan.manifests.forEach((manifest, page) => {
    if (page > 0) context.addPage(Math.ceil(width), Math.ceil(height));
    drawSheetPage(context, plan.layout, manifest, pageImages(plan, page, canvases), scale);
    onPage?.(page);
  });
  const first = plan.manifests[0];
  const pdf = canvas.toBuffer('application/pdf', {
    title: `${first.experiment} (${first.sheetId})`,
    creator: 'Foolprint',
    subject: 'Adversarial examples for the physical-world test, with ArUco corner markers',
    creationDate: new Date(first.createdAt),
  });
  try {
    return setPdfPageSize(pdf, width, height);
  } catch (error) {
    if (!(error instanceof SheetRenderError)) throw error;
    onNote?.(`PDF page left at ${Math.ceil(width)} x ${Math.ceil(height)} pt instead of ${width.toFixed(2)} x ${height.toFixed(2)} (${error.message}); positions from the top-left corner are exact`);
    return pdf;
  }
}

/**
 * Largest PNG page we draw: 40 megapixels (A4 or Letter at 600 dpi, Kurakin et al.'s printer
 * resolution, fits) is already 160 MB of RGBA; 1200 dpi would need 560 MB per page.
 */
export const MAX_PNG_PAGE_PIXELS = 40e6;

/**
 * Lowest resolution of exported PNG pages (the API's limit too): below it a 28-pixel image gets less
 * than a pixel per source pixel at usual cell sizes, and near 0 Cairo fails on an empty surface after
 * the PDF is already written. (Previews draw smaller, from 24 dpi.)
 */
export const MIN_PNG_DPI = 36;

function checkPngSize(layout: SheetLayout, dpi: number): void {
  const width = Math.round(mmToPixels(layout.page.width, dpi));
  const height = Math.round(mmToPixels(layout.page.height, dpi));
  if (!(dpi > 0) || width * height > MAX_PNG_PAGE_PIXELS) {
    const largest = Math.floor(MM_PER_INCH * Math.sqrt(MAX_PNG_PAGE_PIXELS / (layout.page.width * layout.page.height)));
    throw new SheetRenderError(`a PNG page at ${dpi} dpi would be ${width}x${height} px; use at most ${largest} dpi (the PDF is sharp at any print resolution)`);
  }
}

/** One page as an RGBA canvas at `dpi` (what the PNG holds; also a clean "photo" for simulations). */
export function renderSheetCanvas(plan: SheetPlan, page: number, canvases: Canvas[], dpi: number): Canvas {
  checkPngSize(plan.layout, dpi);
  const scale = mmToPixels(1, dpi);
  const canvas = createCanvas(Math.round(plan.layout.page.width * scale), Math.round(plan.layout.page.height * scale));
  drawSheetPage(canvas.getContext('2d'), plan.layout, plan.manifests[page], pageImages(plan, page, canvases), scale);
  return canvas;
}

/**
 * Plans, draws and writes: `<base>.pdf` (all pages), `<base>.png`, `<base>-2.png`, ... and one
 * `<base>.manifest.json`, `<base>-2.manifest.json`, ... per page, each written atomically.
 */
export async function renderSheets(input: SheetRenderInput, outDir: string): Promise<RenderedSheets> {
  const { images, shape, records, options } = input;
  if (records.length !== shape[0]) throw new SheetRenderError(`${shape[0]} images but ${records.length} records: give one record per image`);
  const canvases = imageCanvases(images, shape);
  const plan = planSheets(records, [shape[1], shape[2], shape[3]], options);
  const writePng = options.png ?? true;
  // Checked before anything is written: a refused resolution leaves no partial output.
  if (writePng && !(plan.manifests[0].dpi >= MIN_PNG_DPI)) throw new SheetRenderError(`a PNG page needs at least ${MIN_PNG_DPI} dpi, got ${plan.manifests[0].dpi}`);
  if (writePng) checkPngSize(plan.layout, plan.manifests[0].dpi);
  const pages = plan.manifests.length;
  const total = pages * (writePng ? 2 : 1);
  let done = 0;
  const tick = (label: string) => options.onProgress?.(++done, total, label);

  await mkdir(outDir, { recursive: true });
  const baseName = options.baseName ?? 'sheet';
  const pdfPath = path.join(outDir, `${baseName}.pdf`);
  const notes: string[] = [];
  const pdf = renderSheetPdf(plan, canvases, (page) => tick(`PDF page ${page + 1}/${pages}`), (note) => notes.push(note));
  await writeFileAtomic(pdfPath, pdf);

  const pngPaths: string[] = [];
  const manifestPaths: string[] = [];
  for (let page = 0; page < pages; page++) {
    const manifest = plan.manifests[page];
    if (writePng) {
      const png = renderSheetCanvas(plan, page, canvases, manifest.dpi).toBuffer('image/png', { compressionLevel: 6, resolution: manifest.dpi });
      const pngPath = path.join(outDir, manifest.files.png);
      await writeFileAtomic(pngPath, png);
      pngPaths.push(pngPath);
      tick(`PNG page ${page + 1}/${pages}`);
    }
    const manifestPath = path.join(outDir, sheetFileNames(baseName, page + 1).manifest);
    await writeJsonAtomic(manifestPath, manifest);
    manifestPaths.push(manifestPath);
  }
  return { notes, pdfPath, pngPaths, manifestPaths, manifests: plan.manifests, layout: plan.layout };
}
