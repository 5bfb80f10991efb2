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
 * too ("camera still, 14:36:07"); a still with an unreadable date is "camera still". Titles that still
 * clash (two stills in one second, two photos with one file name) are numbered in the order given
 * ("IMG_0042.JPG (2)"): the Compare screen names each capture's section by its title, and two sections
 * a reader cannot tell apart are one too many.
 */
export function captureTitles(captures: readonly CaptureNaming[]): Map<string, string> {
  const stillTime = (c: CaptureNaming, seconds: boolean): string => {
    const time = new Date(c.createdAt);
    if (Number.isNaN(time.getTime())) return 'camera still';
    const minute = `${twoDigits(time.getHours())}:${twoDigits(time.getMinutes())}`;
    return `camera still, ${seconds ? `${minute}:${twoDigits(time.getSeconds())}` : minute}`;
  };
  const short = captures.map((c) => (c.source === 'camera' ? stillTime(c, false) : c.fileName));
  const titles = captures.map((c, i) => {
    const clash = c.source === 'camera' && short.some((title, j) => j !== i && title === short[i]);
    return clash ? stillTime(c, true) : short[i];
  });
  const seen = new Map<string, number>();
  return new Map(
    captures.map((c, i) => {
      const title = titles[i];
      if (titles.indexOf(title) === titles.lastIndexOf(title)) return [c.captureId, title];
      const n = (seen.get(title) ?? 0) + 1;
      seen.set(title, n);
      return [c.captureId, `${title} (${n})`];
    }),
  );
}

/** The note on the predicted destruction column, on the Compare screen and in the HTML report. */
export const PREDICTED_NOTE = "Predicted: the rate the run's print survival estimates foresaw for the same images (one minus their mean survival).";
/** The note on a protected model's rejected-photo columns. */
export const REJECTED_NOTE = "Photos rejected: the protected model's detector refused them (clean: false positives, adversarial: detections); they are counted apart, the rates stay the classifier's.";

/** A protected model's refusals in one case, as "rejected/photographed". */
export function rejectedOfPhotographed(c: { correct: number; wrong: number; rejected: number }): string {
  return `${c.rejected}/${c.correct + c.wrong + c.rejected}`;
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
