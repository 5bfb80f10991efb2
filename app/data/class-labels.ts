/**
 * How a label written by a user (a sub-folder name, a labels.csv cell, a file name, a typed label)
 * becomes one of the model's class indices. One rule for the CLI, the service and the UI:
 * - a whole number is a class index ("7" → 7), checked against the model's class count;
 * - anything else is a class name, looked up in the model's labels exactly, then ignoring case,
 *   spaces and underscores ("Stop_sign" finds "stop sign");
 * - a name the model does not have is an error that names it and lists the model's labels.
 * Taking names in alphabetical order instead (as before) scored "eight" as class 0: a plausible,
 * wrong accuracy. Pure: the renderer uses it for dropped files.
 */
import { DatasetError } from './errors.js';

const WHOLE_NUMBER = /^\d+$/;

/** The form two labels are compared in when the exact spelling differs. */
function looseForm(label: string): string {
  return label.normalize('NFC').toLowerCase().replace(/[\s_]+/g, '');
}

function listLabels(labels: readonly string[]): string {
  const shown = labels.slice(0, 20).map((l, i) => (l === String(i) ? l : `${i}=${l}`));
  return shown.join(', ') + (labels.length > shown.length ? `, … (${labels.length} in all)` : '');
}

/** Resolves labels (as written in `where`, e.g. "sub-folder" or "labels.csv") against a model's labels. */
export class ClassLabelMatcher {
  private readonly exact = new Map<string, number>();
  private readonly loose = new Map<string, number[]>();

  constructor(readonly modelLabels: readonly string[]) {
    modelLabels.forEach((label, index) => {
      if (!this.exact.has(label)) this.exact.set(label, index);
      const key = looseForm(label);
      this.loose.set(key, [...(this.loose.get(key) ?? []), index]);
    });
  }

  /** The class index of `written`, or a DatasetError naming it and the model's labels. */
  indexOf(written: string, where: string): number {
    const label = written.trim();
    if (WHOLE_NUMBER.test(label)) {
      const index = Number(label);
      if (index >= this.modelLabels.length) {
        throw new DatasetError(`${where} label ${label} is not a class index of the model (0-${this.modelLabels.length - 1}: ${listLabels(this.modelLabels)})`);
      }
      // A model whose labels are numbers in another order ("1", "2", …) would make "1" mean two classes.
      const named = this.exact.get(label);
      if (named !== undefined && named !== index) {
        throw new DatasetError(`${where} label ${label} is ambiguous: class index ${index} is "${this.modelLabels[index]}", but class ${named} is named "${label}"`);
      }
      return index;
    }
    const exact = this.exact.get(label);
    if (exact !== undefined) return exact;
    const loose = this.loose.get(looseForm(label)) ?? [];
    if (loose.length === 1) return loose[0];
    if (loose.length > 1) throw new DatasetError(`${where} label "${label}" matches several of the model's labels: ${loose.map((i) => `${i}=${this.modelLabels[i]}`).join(', ')}`);
    throw new DatasetError(`${where} label "${label}" is not one of the model's labels: ${listLabels(this.modelLabels)}`);
  }

  /** Like indexOf, but null where `written` is no label of the model (for guesses such as file names). */
  tryIndexOf(written: string): number | null {
    try {
      return this.indexOf(written, '');
    } catch {
      return null;
    }
  }
}

/**
 * The labels of a source that names its classes when no model is there to match them against:
 * whole numbers are indices, other names are numbered in alphabetical order (reported as classNames).
 */
export function labelsWithoutModel(written: readonly string[]): { indexOf: (label: string) => number; classNames?: string[] } {
  if (written.every((l) => WHOLE_NUMBER.test(l.trim()))) return { indexOf: (l) => Number(l.trim()) };
  const names = [...new Set(written.map((l) => l.trim()))].sort();
  return { indexOf: (l) => names.indexOf(l.trim()), classNames: names };
}

/**
 * The true label a dropped file's name carries: its first word ("7.png", "7_0042.png",
 * "seven-3.jpg") or a "label-7"/"class_seven" part, matched like any other label; null when the name
 * carries none the model knows.
 */
export function labelFromFileName(name: string, matcher: ClassLabelMatcher): number | null {
  const stem = name.replace(/\.[^.]+$/, '');
  const candidates = [/^([^_\-. ]+)(?:[_\-. ]|$)/.exec(stem)?.[1], /(?:^|[_\-. ])(?:label|class|y)[_\-=]([^_\-. ]+)(?:[_\-. ]|$)/i.exec(stem)?.[1], /(?:^|[_\-. ])(?:label|class|y)(\d+)(?:[_\-. ]|$)/i.exec(stem)?.[1]];
  for (const candidate of candidates) {
    if (candidate === undefined) continue;
    const index = matcher.tryIndexOf(candidate);
    if (index !== null) return index;
  }
  return null;
}
