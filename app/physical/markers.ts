/**
 * ArUco fiducial markers for printed sheets, drawable without OpenCV (the renderer's live preview and
 * the PDF/PNG writer need only these bits; detection lives with the photo analysis).
 *
 * Dictionary: OpenCV's predefined DICT_4X4_250 (4x4 data bits inside a one-module black border, so a
 * marker is 6x6 modules). Why 4X4_250 and not 4X4_1000: measured on @techstark/opencv-js
 * 4.12.0-release.1, DICT_4X4_250 has a minimum Hamming distance of 3 between any two markers under
 * all four rotations, so OpenCV corrects one flipped bit (maxCorrectionBits = 1); DICT_4X4_1000 has
 * distance 2 and OpenCV corrects nothing (maxCorrectionBits = 0), so a single misread module on a
 * blurry phone photo loses the marker. OpenCV's smaller 4x4 dictionaries are prefixes of the larger ones (4X4_250's byte list is
 * exactly the first 250 rows of 4X4_1000's, checked), so a detector built on DICT_4X4_1000 finds these
 * markers too, only without the bit correction.
 *
 * Sheet numbering: sheet s (0..29) carries ids 4·s + k, k = 0,1,2,3 for the page corners TL, TR, BR,
 * BL, so photos of the pages of one set can come in any order. Ids 122-249 print the sheet set's
 * identity (sheet-identity.ts), which tells sets apart; manifests of version 1, written before
 * identities, used sheet numbers up to 61 (ids up to 247) and are still read.
 */
import { IDENTITY_FIRST_MARKER_ID } from './sheet-identity.js';


/** The OpenCV constant name to build the detector with: `cv.getPredefinedDictionary(cv[MARKER_DICTIONARY])`. */
export const MARKER_DICTIONARY = 'DICT_4X4_250';
/** Data bits per marker side. */
export const MARKER_DATA_BITS = 4;
/** Width of the black border in modules (OpenCV's `markerBorderBits`, default 1). */
export const MARKER_BORDER_BITS = 1;
/** Modules per marker side, border included: 4 + 2·1 = 6. */
export const MARKER_MODULES = MARKER_DATA_BITS + 2 * MARKER_BORDER_BITS;
export const MARKER_ID_COUNT = 250;
export const MARKERS_PER_SHEET = 4;
/** Largest sheet number printed now: ids 4·29+3 = 119 is the last full set below the identity ids. */
export const MAX_SHEET_NUMBER = Math.floor(IDENTITY_FIRST_MARKER_ID / MARKERS_PER_SHEET) - 1;
/** Largest sheet number of a version-1 manifest (before identities): ids 4·61+3 = 247, the last full set within 250. */
export const LEGACY_MAX_SHEET_NUMBER = Math.floor(MARKER_ID_COUNT / MARKERS_PER_SHEET) - 1;

/** Page corners in OpenCV's corner order (TL, TR, BR, BL, clockwise from top-left). */
export type PageCorner = 'TL' | 'TR' | 'BR' | 'BL';
export const PAGE_CORNERS: readonly PageCorner[] = ['TL', 'TR', 'BR', 'BL'];

export class MarkerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MarkerError';
  }
}

/**
 * The 4x4 data bits of DICT_4X4_250, one 16-bit word per id as 4 hex digits, row-major from the
 * marker's top-left module, most significant bit first, 1 = white. Extracted once from
 * @techstark/opencv-js 4.12.0-release.1 with `dictionary.generateImageMarker(id, 6, mat, 1)`;
 * test/sheet-markers.test.ts checks every id against OpenCV again.
 */
const DICT_4X4_250_HEX =
  'b5320f9a332d9946549e79cd9e2ec4f2fedacf56f99111a70eb72a0f24b1263e466566006c5e76af868bb02bccd5dd82fe47' +
  '9471ace4a5542123346f441557b29ecff0cb08ae0929187504ff0df61c5a17182a28328c38b224e82eeb2d3f4b64502e5013' +
  '519455685d415f9768016867612461e96b126fe567df7e1b80a083448ba2937a846c852a859c9c899fa1bb7cbc04b65bbfc8' +
  'b7abca1fc962d958d3d5cc98c7a0c537e95df925fbbbee2af74d35758aad76170acf064b2dc149d843f44f364fd369e470c7' +
  '7a6eb4eaed4ffce7fea6002500430a880a86026f001c009708370a3109c60b0109fb0b581082182d10781073127412b11af9' +
  '13060c0e0cf104330c9f0ef20efd074c0fa4072f05b50f9107db1ee414391d8015c81f8b15ba1db1208028e922a228532af0' +
  '22f72940214629b92b9c2bb238ca382e300738e73a493a65325d3b88391d3bd3264727802faa2d1425de25532f7734483ca8' +
  '3c41340d34fb369a3de0356a3d093ded3fc43f6c37ce3d5c3d7637b03f173fff48e542684a2d4160495141dd4bdf584f5a48' +
  '5816505d5afa5ab551235b8a591951354c6946c14e0b445f4e594d834d7d47d847735c855e44562b5cbb55c35f6e5feb5d12' +
  '555e6270621561c26b2063456b5c6b5b780c7acf787f798071e5717479b671d37b33646a66a86ea76e9165226dcb678d6d31';

/** The ids printed on sheet `sheetNumber`, in page-corner order TL, TR, BR, BL (sheet numbers of version-1 manifests included). */
export function markerIdsForSheet(sheetNumber: number): [number, number, number, number] {
  if (!Number.isInteger(sheetNumber) || sheetNumber < 0 || sheetNumber > LEGACY_MAX_SHEET_NUMBER) {
    throw new MarkerError(`sheet number must be a whole number from 0 to ${LEGACY_MAX_SHEET_NUMBER}, got ${sheetNumber}`);
  }
  const base = MARKERS_PER_SHEET * sheetNumber;
  return [base, base + 1, base + 2, base + 3];
}

/** Which sheet and page corner a detected marker id belongs to. */
export function sheetNumberFromMarkerId(id: number): { sheetNumber: number; corner: PageCorner; cornerIndex: number } {
  if (!Number.isInteger(id) || id < 0 || id >= MARKERS_PER_SHEET * (LEGACY_MAX_SHEET_NUMBER + 1)) {
    throw new MarkerError(`marker id must be a whole number from 0 to ${MARKERS_PER_SHEET * (LEGACY_MAX_SHEET_NUMBER + 1) - 1}, got ${id}`);
  }
  const cornerIndex = id % MARKERS_PER_SHEET;
  return { sheetNumber: Math.floor(id / MARKERS_PER_SHEET), corner: PAGE_CORNERS[cornerIndex], cornerIndex };
}

/** The 16 data bits of marker `id`, row-major, 1 = white module. */
export function markerDataBits(id: number): Uint8Array {
  if (!Number.isInteger(id) || id < 0 || id >= MARKER_ID_COUNT) {
    throw new MarkerError(`marker id must be a whole number from 0 to ${MARKER_ID_COUNT - 1}, got ${id}`);
  }
  const word = parseInt(DICT_4X4_250_HEX.slice(4 * id, 4 * id + 4), 16);
  const bits = new Uint8Array(MARKER_DATA_BITS * MARKER_DATA_BITS);
  for (let i = 0; i < bits.length; i++) bits[i] = (word >> (bits.length - 1 - i)) & 1;
  return bits;
}

/**
 * The full 6x6 module grid of marker `id` as drawn upright (border included), row-major,
 * 1 = white, 0 = black: what a renderer fills square by square.
 */
export function markerModules(id: number): Uint8Array {
  const data = markerDataBits(id);
  const modules = new Uint8Array(MARKER_MODULES * MARKER_MODULES);
  for (let row = 0; row < MARKER_DATA_BITS; row++) {
    for (let column = 0; column < MARKER_DATA_BITS; column++) {
      modules[(row + MARKER_BORDER_BITS) * MARKER_MODULES + column + MARKER_BORDER_BITS] = data[row * MARKER_DATA_BITS + column];
    }
  }
  return modules;
}
