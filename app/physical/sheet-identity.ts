/**
 * The identity of a sheet set, printed as eight extra ArUco markers in the header and footer bands
 * and read by the same `detectMarkers` call as the corner markers, so a photo is only ever scored
 * against the sheets it shows (two runs both print "sheet 0" with markers 0-3).
 *
 * Why markers and not a QR code: the corner markers are already found at 720p in the live view,
 * on phone photos and through the simulator's channel; identity markers of the same dictionary and the
 * same printed size are found under exactly the same conditions, at almost no extra cost (one more
 * detection call would double the live view's cost; these add a few candidates to the one call).
 *
 * Code: a Reed–Solomon code RS(8, 5) over GF(2⁷) (Reed & Solomon 1960, as an evaluation code: the
 * five data symbols are the coefficients of P, marker i carries P(αⁱ)). Each marker carries one 7-bit
 * symbol as its id: symbol s is marker id IDENTITY_FIRST_MARKER_ID + s, the last 128 ids of
 * DICT_4X4_250, so identity markers never look like corner markers (ids 0-119, sheets 0-29). Which
 * symbol a marker is comes from where it sits on the page (the corner markers' homography), not from
 * its id, so all 7 bits carry data: 5 × 7 = 35 random bits of identity.
 *
 * Decoding corrects erasures only (a marker hidden, blurred or outside the frame) and never corrects a
 * substitution (a marker read as another valid id): it needs 6 of the 8 symbols, fits P through five
 * of them and checks the others. The minimum distance is 4, so any e erasures and s substitutions with
 * e ≤ 2 and e + s ≤ 3 are decoded correctly or refused, never decoded to another identity; beyond that
 * a wrong identity needs a consistent set of misreads, each of which ArUco's own code (distance 3)
 * already makes rare.
 */

export const IDENTITY_MARKER_COUNT = 8;
export const IDENTITY_DATA_SYMBOLS = 5;
export const IDENTITY_SYMBOL_BITS = 7;
export const IDENTITY_BITS = IDENTITY_DATA_SYMBOLS * IDENTITY_SYMBOL_BITS;
/** Symbols needed to decode: the data symbols plus at least one check. */
export const IDENTITY_MIN_MARKERS = IDENTITY_DATA_SYMBOLS + 1;
const FIELD_SIZE = 1 << IDENTITY_SYMBOL_BITS;
/** Identity symbol s is printed as marker id IDENTITY_FIRST_MARKER_ID + s: ids 122-249 of DICT_4X4_250. */
export const IDENTITY_FIRST_MARKER_ID = 250 - FIELD_SIZE;
/** Hex digits of an identity: 35 bits in 9 digits. */
const IDENTITY_HEX_DIGITS = Math.ceil(IDENTITY_BITS / 4);

export class SheetIdentityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SheetIdentityError';
  }
}

// GF(2⁷) with the primitive polynomial x⁷ + x³ + 1 (0x89): α = x generates all 127 non-zero elements
// (test/sheet-identity.test.ts checks the order), so the eight points αⁱ are distinct.
const PRIMITIVE = 0x89;
const EXP = new Uint8Array(2 * FIELD_SIZE);
const LOG = new Uint8Array(FIELD_SIZE);
{
  let x = 1;
  for (let i = 0; i < FIELD_SIZE - 1; i++) {
    EXP[i] = x;
    LOG[x] = i;
    x <<= 1;
    if (x & FIELD_SIZE) x ^= PRIMITIVE;
  }
  for (let i = FIELD_SIZE - 1; i < EXP.length; i++) EXP[i] = EXP[i - (FIELD_SIZE - 1)];
}

/** Multiplicative order of α in the field (127 when the polynomial is primitive): exported for the test. */
export function generatorOrder(): number {
  let x = 1;
  for (let n = 1; n <= FIELD_SIZE; n++) {
    x <<= 1;
    if (x & FIELD_SIZE) x ^= PRIMITIVE;
    if (x === 1) return n;
  }
  return 0;
}

function multiply(a: number, b: number): number {
  return a === 0 || b === 0 ? 0 : EXP[LOG[a] + LOG[b]];
}

function inverse(a: number): number {
  if (a === 0) throw new SheetIdentityError('0 has no inverse');
  return EXP[FIELD_SIZE - 1 - LOG[a]];
}

/** P(αⁱ) for P with coefficients `coefficients` (lowest degree first), by Horner's rule. */
function evaluate(coefficients: readonly number[], i: number): number {
  const point = EXP[i];
  let value = 0;
  for (let j = coefficients.length - 1; j >= 0; j--) value = multiply(value, point) ^ coefficients[j];
  return value;
}

/** The coefficients of the degree < k polynomial through (α^positions[j], values[j]), by Gaussian elimination. */
function interpolate(positions: readonly number[], values: readonly number[]): number[] {
  const k = positions.length;
  const rows = positions.map((i, r) => [...Array.from({ length: k }, (_, j) => EXP[(i * j) % (FIELD_SIZE - 1)]), values[r]]);
  for (let column = 0; column < k; column++) {
    const pivot = rows.findIndex((row, r) => r >= column && row[column] !== 0);
    // A Vandermonde matrix of distinct points is invertible: a missing pivot is a programming error.
    if (pivot < 0) throw new SheetIdentityError('identity positions must be distinct');
    [rows[column], rows[pivot]] = [rows[pivot], rows[column]];
    const scale = inverse(rows[column][column]);
    rows[column] = rows[column].map((v) => multiply(v, scale));
    for (let r = 0; r < k; r++) {
      const factor = rows[r][column];
      if (r === column || factor === 0) continue;
      rows[r] = rows[r].map((v, j) => v ^ multiply(factor, rows[column][j]));
    }
  }
  return rows.map((row) => row[k]);
}

/** A fresh random identity: 35 bits from the platform's CSPRNG, as 9 hex digits. */
export function randomSheetIdentity(): string {
  const words = globalThis.crypto.getRandomValues(new Uint32Array(2));
  return formatIdentity(words[0] * 2 ** (IDENTITY_BITS - 32) + (words[1] % 2 ** (IDENTITY_BITS - 32)));
}

function formatIdentity(value: number): string {
  return value.toString(16).padStart(IDENTITY_HEX_DIGITS, '0');
}

export function isSheetIdentity(text: unknown): text is string {
  return typeof text === 'string' && new RegExp(`^[0-9a-f]{${IDENTITY_HEX_DIGITS}}$`).test(text) && parseInt(text, 16) < 2 ** IDENTITY_BITS;
}

/** The eight marker ids that print `identity`, in slot order (layout.ts `identityMarkers`). */
export function identityMarkerIds(identity: string): number[] {
  if (!isSheetIdentity(identity)) throw new SheetIdentityError(`a sheet identity is ${IDENTITY_HEX_DIGITS} hex digits below 2^${IDENTITY_BITS}, got "${identity}"`);
  const value = parseInt(identity, 16);
  const coefficients = Array.from({ length: IDENTITY_DATA_SYMBOLS }, (_, j) => Math.floor(value / 2 ** (IDENTITY_SYMBOL_BITS * j)) % FIELD_SIZE);
  return Array.from({ length: IDENTITY_MARKER_COUNT }, (_, i) => IDENTITY_FIRST_MARKER_ID + evaluate(coefficients, i));
}

export function isIdentityMarkerId(id: number): boolean {
  return Number.isInteger(id) && id >= IDENTITY_FIRST_MARKER_ID && id < IDENTITY_FIRST_MARKER_ID + FIELD_SIZE;
}

export type IdentityReading =
  | { ok: true; identity: string; /** Slots whose marker was not read and was restored from the others. */ restored: number[] }
  | { ok: false; /** 'too-few': fewer than 6 markers read; 'inconsistent': the markers read are not one identity. */ reason: 'too-few' | 'inconsistent'; found: number; message: string };

/**
 * Decodes the marker ids read in the eight slots (null: no marker there; an id that is not an identity
 * id counts as unread). Never returns an identity the markers do not agree on: see the file comment.
 */
export function decodeIdentityMarkers(ids: readonly (number | null)[]): IdentityReading {
  if (ids.length !== IDENTITY_MARKER_COUNT) throw new SheetIdentityError(`expected ${IDENTITY_MARKER_COUNT} identity slots, got ${ids.length}`);
  const found = ids.flatMap((id, i) => (id !== null && isIdentityMarkerId(id) ? [i] : []));
  if (found.length < IDENTITY_MIN_MARKERS) {
    return { ok: false, reason: 'too-few', found: found.length, message: `only ${found.length} of ${IDENTITY_MARKER_COUNT} identity markers read (need ${IDENTITY_MIN_MARKERS})` };
  }
  const symbol = (i: number) => (ids[i] as number) - IDENTITY_FIRST_MARKER_ID;
  const basis = found.slice(0, IDENTITY_DATA_SYMBOLS);
  const coefficients = interpolate(basis, basis.map(symbol));
  const disagree = found.slice(IDENTITY_DATA_SYMBOLS).filter((i) => evaluate(coefficients, i) !== symbol(i));
  if (disagree.length > 0) {
    return { ok: false, reason: 'inconsistent', found: found.length, message: `the ${found.length} identity markers read do not spell one identity (a marker misread, or two sheets overlap)` };
  }
  const value = coefficients.reduce((sum, c, j) => sum + c * 2 ** (IDENTITY_SYMBOL_BITS * j), 0);
  return { ok: true, identity: formatIdentity(value), restored: ids.flatMap((_, i) => (found.includes(i) ? [] : [i])) };
}
