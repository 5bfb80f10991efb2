/**
 * ε as people write it: in pixel levels of 255 (Kurakin et al. 2016 quote ε = 2, 4, 8, 16) or in the
 * [0,1] units the attacks use. The API always receives [0,1].
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

/** "2, 4 8;16" → [2/255, 4/255, 8/255, 16/255] for unit 'levels'; sorted, duplicates removed. */
export function parseEpsilons(text: string, unit: EpsilonUnit): number[] {
  const parts = text.split(/[\s,;]+/).filter((p) => p.length > 0);
  if (parts.length === 0) throw new EpsilonParseError('give at least one ε');
  const values = parts.map((part) => {
    const value = Number(part);
    if (!Number.isFinite(value) || value < 0) throw new EpsilonParseError(`"${part}" is not a non-negative number`);
    const unitValue = toUnitEpsilon(value, unit);
    if (unitValue > 1) throw new EpsilonParseError(`ε ${part} is above the whole pixel range (${unit === 'levels' ? '255 levels' : '1'})`);
    return unitValue;
  });
  return [...new Set(values)].sort((a, b) => a - b);
}

/** ε for display in both units, e.g. "8/255 (0.0314)". */
export function formatEpsilon(unitValue: number): string {
  const levels = unitValue * 255;
  const levelText = Math.abs(levels - Math.round(levels)) < 1e-6 ? String(Math.round(levels)) : levels.toFixed(2);
  return `${levelText}/255 (${unitValue.toFixed(4)})`;
}
