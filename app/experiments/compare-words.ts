/**
 * How Compare names what was photographed, in the renderer and in the exported report alike: a photo
 * by its file name, a camera still by the time it was taken ("camera still, 14:36"), and a row's count
 * as images × captures rather than their product.
 */

export interface CaptureNaming {
  captureId: string;
  fileName: string;
  source: 'camera' | 'file';
  createdAt: string;
}

const twoDigits = (n: number): string => String(n).padStart(2, '0');

/**
 * Titles by capture id. Stills taken within the same minute would read alike, so those get seconds
 * too ("camera still, 14:36:07"); a still with an unreadable date is "camera still".
 */
export function captureTitles(captures: readonly CaptureNaming[]): Map<string, string> {
  const stillTime = (c: CaptureNaming, seconds: boolean): string => {
    const time = new Date(c.createdAt);
    if (Number.isNaN(time.getTime())) return 'camera still';
    const minute = `${twoDigits(time.getHours())}:${twoDigits(time.getMinutes())}`;
    return `camera still, ${seconds ? `${minute}:${twoDigits(time.getSeconds())}` : minute}`;
  };
  const short = captures.map((c) => (c.source === 'camera' ? stillTime(c, false) : c.fileName));
  return new Map(
    captures.map((c, i) => {
      const clash = c.source === 'camera' && short.some((title, j) => j !== i && title === short[i]);
      return [c.captureId, clash ? stillTime(c, true) : short[i]];
    }),
  );
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * "4 images × 2 captures" for a row counted capture by capture; merged captures count once per sheet:
 * "4 images × 1 sheet (vote)"; "none" for a row no image made it into (an empty prefiltered case).
 */
export function imagesTimesCaptures(row: { images: number; captures: number }, combine: 'each' | 'vote' | 'mean'): string {
  if (row.images === 0) return 'none';
  return combine === 'each' ? `${plural(row.images, 'image')} × ${plural(row.captures, 'capture')}` : `${plural(row.images, 'image')} × ${plural(row.captures, 'sheet')} (${combine})`;
}
