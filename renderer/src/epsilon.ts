/**
 * ε as people write it: in pixel levels of 255 (Kurakin et al. 2016 quote ε = 2, 4, 8, 16), in the
 * [0,1] units the attacks use (Goodfellow et al.'s 0.1, 0.25 on MNIST), or as a fraction "8/255". The
 * API always receives [0,1]. The unit select only decides what a bare number ≤ 1 means: "8/255" is a
 * fraction whatever the select says, and a number above 1 can only be grey levels.
 */
export type EpsilonUnit = 'levels' | 'unit';

export class EpsilonParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EpsilonParseError';
  }
}

export function toUnitEpsilon(value: number, unit: EpsilonUnit): number {
  return unit === 'levels' ? value / 255 : value;
}

export function fromUnitEpsilon(value: number, unit: EpsilonUnit): number {
  return unit === 'levels' ? value * 255 : value;
}

/** How one written ε was understood. */
export interface EpsilonReading {
  text: string;
  /** [0,1] pixel units. */
  value: number;
  as: 'fraction' | 'levels' | 'unit';
}

export interface EpsilonsRead {
  /** Sorted, duplicates removed, [0,1] units. */
  values: number[];
  readings: EpsilonReading[];
  /** Advice that does not stop the run, e.g. an ε below one grey level in level units. */
  hints: string[];
}

const NUMBER = /^(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?$/i;

function readOne(part: string, unit: EpsilonUnit): EpsilonReading {
  const fraction = /^([^/]*)\/([^/]*)$/.exec(part);
  if (fraction) {
    const [numerator, denominator] = [fraction[1], fraction[2]].map((p) => (NUMBER.test(p) ? Number(p) : Number.NaN));
    if (!Number.isFinite(numerator) || !Number.isFinite(denominator) || denominator <= 0) throw new EpsilonParseError(`"${part}" is not a number or a fraction such as 8/255`);
    return { text: part, value: numerator / denominator, as: 'fraction' };
  }
  const value = NUMBER.test(part) ? Number(part) : Number.NaN;
  if (!Number.isFinite(value)) throw new EpsilonParseError(`"${part}" is not a non-negative number`);
  // Above 1 it cannot be a fraction of the range: it is grey levels, whatever the select says.
  if (value > 1 || unit === 'levels') return { text: part, value: value / 255, as: 'levels' };
  return { text: part, value, as: 'unit' };
}

/** "2, 4 8;16" → [2/255, 4/255, 8/255, 16/255]; also "8/255" and "0.03" (see the module comment). */
export function readEpsilons(text: string, unit: EpsilonUnit): EpsilonsRead {
  const parts = text.split(/[\s,;]+/).filter((p) => p.length > 0);
  if (parts.length === 0) throw new EpsilonParseError('give at least one ε');
  const readings = parts.map((part) => readOne(part, unit));
  const hints: string[] = [];
  for (const r of readings) {
    if (r.value > 1) throw new EpsilonParseError(`ε ${r.text} is above the whole pixel range (255 levels, or 1)`);
    const levels = r.value * 255;
    if (r.as === 'levels' && levels > 0 && levels < 1) {
      hints.push(`ε ${r.text} in pixel levels is less than one grey level, so 8-bit images barely change: did you mean ${r.text} in [0, 1] (≈ ${formatLevels(Number(r.text))}/255)?`);
    }
  }
  return { values: [...new Set(readings.map((r) => r.value))].sort((a, b) => a - b), readings, hints };
}

export function parseEpsilons(text: string, unit: EpsilonUnit): number[] {
  return readEpsilons(text, unit).values;
}

function formatLevels(unitValue: number): string {
  const levels = unitValue * 255;
  return Math.abs(levels - Math.round(levels)) < 1e-6 ? String(Math.round(levels)) : String(Number(levels.toFixed(2)));
}

/** ε for display in both units, e.g. "8/255 (0.0314)". */
export function formatEpsilon(unitValue: number): string {
  const levels = unitValue * 255;
  const levelText = Math.abs(levels - Math.round(levels)) < 1e-6 ? String(Math.round(levels)) : levels.toFixed(2);
  return `${levelText}/255 (${unitValue.toFixed(4)})`;
}

/** ε in grey levels only, "16" or "25.5", for short texts ("20 at ε 16"). */
export function epsilonInLevels(unitValue: number): string {
  return formatLevels(unitValue);
}

/** ε values written for the unit select: "2 4 8" in levels, "0.1 0.2" in [0,1]. */
export function writeEpsilons(values: readonly number[], unit: EpsilonUnit): string {
  return values.map((v) => (unit === 'levels' ? formatLevels(v) : String(Number(v.toPrecision(6))))).join(' ');
}

/**
 * The ε text and unit a form starts with for a model's suggested list: in levels when every value is
 * a whole number of grey levels (2 4 8 16), else in [0,1] (0.1 0.2 0.3 for MNIST-like models).
 */
export function epsilonField(suggested: readonly number[]): { text: string; unit: EpsilonUnit } {
  const wholeLevels = suggested.every((v) => Math.abs(v * 255 - Math.round(v * 255)) < 1e-6);
  const unit: EpsilonUnit = wholeLevels ? 'levels' : 'unit';
  return { text: writeEpsilons(suggested, unit), unit };
}
