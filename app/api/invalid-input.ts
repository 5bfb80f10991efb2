/**
 * Plain words for a payload the contract refused: "Count must be at least 1", not "invalid
 * attacks.start input: images.limit: Too small: expected number to be >0". The one place that turns
 * zod issues into sentences; every host (service/browser mode, Electron IPC, the CLI where it
 * validates through the contract) calls it, and the renderer shows what it says. Fields are named
 * as the screens label them; the CLI passes its flag names instead.
 */
import type { z } from 'zod';

/** Field path (indices left out, e.g. "images.files.label") → the label the screens show. */
export const FIELD_LABELS: Readonly<Record<string, string>> = {
  'images': 'Images',
  'images.kind': 'Images',
  'images.limit': 'Count',
  'images.offset': 'From',
  'images.path': 'Dataset path',
  'images.files': 'My files',
  'images.files.label': 'Label',
  'images.files.name': 'File name',
  'params.method': 'Method',
  'params.epsilons': 'ε',
  'params.steps': 'Steps',
  'params.stepSize': 'Step size',
  'params.loss': 'Loss',
  'params.norm': 'Norm',
  'params.restarts': 'Restarts',
  'params.overshoot': 'Overshoot',
  'params.maxIterations': 'Max iterations',
  'params.candidates': 'Candidates',
  'params.seed': 'Seed',
  'params.targetClass': 'Target class',
  'params.momentum': 'Momentum',
  experimentId: 'Experiment',
  runId: 'Run',
  modelId: 'Model',
  sheetSetId: 'Sheet set',
  captureId: 'Capture',
  jobId: 'Job',
  // Print screen.
  epsilons: 'ε',
  limit: 'Images to print',
  paper: 'Paper',
  orientation: 'Orientation',
  cellMm: 'Cell (mm)',
  dpi: 'PNG dpi',
  page: 'Page',
  previewDpi: 'Preview dpi',
  // Experiments, Models, Compare.
  name: 'Name',
  path: 'Folder',
  files: 'Files',
  'files.path': 'File path',
  prefilterConfidence: 'Prefilter confidence',
  photo: 'Photo',
};

/** Said after a field's message, where a bare bound would leave the user guessing why. */
const FIELD_HINTS: Readonly<Record<string, { tooBig?: string }>> = {
  'params.epsilons': { tooBig: 'ε is in [0,1] pixel units: 8 levels is 8/255 ≈ 0.031' },
  epsilons: { tooBig: 'ε is in [0,1] pixel units: 8 levels is 8/255 ≈ 0.031' },
};

export interface DescribeOptions {
  /** The payload as sent, to quote the refused value. */
  input?: unknown;
  /** Names to use instead of the screen labels (the CLI's flags), by the same keys as FIELD_LABELS. */
  labels?: Readonly<Record<string, string>>;
}

/** "maxIterations" → "Max iterations": the fallback for a field no screen shows. */
function humanize(key: string): string {
  const words = key.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function fieldKey(path: readonly PropertyKey[]): string {
  return path.filter((part) => typeof part === 'string').join('.');
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const part of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[part];
  }
  return value;
}

/** A refused value, short and printable: never raw bytes or a whole object. */
function quote(value: unknown): string | undefined {
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') {
    // eslint-disable-next-line no-control-regex -- control characters are exactly what is left out
    if (value.length > 40 || /[\u0000-\u001f\u007f-\u009f\ufffd]/.test(value)) return undefined;
    return JSON.stringify(value);
  }
  return undefined;
}

const KIND_WORDS: Record<string, string> = { number: 'a number', int: 'a whole number', string: 'text', boolean: 'true or false', array: 'a list', object: 'a set of fields' };

function listWords(values: readonly unknown[]): string {
  const words = values.map((v) => (typeof v === 'string' ? v : JSON.stringify(v)));
  return words.length <= 1 ? words.join('') : `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}`;
}

/** How zod's default messages begin; any other message was written by us in the schema. */
const ZOD_WORDING = /^(Too (small|big)|Invalid|Unrecognized key)/;

/**
 * A message written in a schema (regex formats, refinements, custom bounds) says either the rest of
 * a sentence ("must be an id of …") or a whole one ('"a.bin" is uploaded twice').
 */
function ownWords(message: string, subject: string, got: string): string {
  return /^(must|is|are|needs|has|should|cannot)\b/.test(message) ? `${subject} ${message}${got}` : message;
}

/** One zod issue as a sentence about the field. */
export function describeIssue(issue: z.core.$ZodIssue, options: DescribeOptions = {}): string {
  const key = fieldKey(issue.path);
  const label = options.labels?.[key] ?? FIELD_LABELS[key] ?? (key === '' ? 'The input' : humanize(String(issue.path.filter((p) => typeof p === 'string').at(-1))));
  const value = 'input' in options ? valueAt(options.input, issue.path) : undefined;
  const got = quote(value) === undefined ? '' : `, got ${quote(value)}`;
  // A value in a list (one ε of several) is named by the list: "ε must be at most 1, got 8".
  const subject = label;
  if (!ZOD_WORDING.test(issue.message)) return ownWords(issue.message, subject, got);
  switch (issue.code) {
    case 'too_small':
    case 'too_big': {
      const small = issue.code === 'too_small';
      const bound = Number(small ? issue.minimum : issue.maximum);
      const inclusive = issue.inclusive !== false;
      if (issue.origin === 'array' || issue.origin === 'set') {
        const items = bound === 1 ? 'value' : 'values';
        return small ? `${label} needs at least ${bound} ${items}` : `${label} takes at most ${bound} ${items}`;
      }
      if (issue.origin === 'string') {
        if (small && bound === 1) return `${label} must not be empty`;
        return `${label} must be ${small ? 'at least' : 'at most'} ${bound} characters long`;
      }
      const relation = small ? (inclusive ? 'at least' : 'more than') : inclusive ? 'at most' : 'less than';
      const hint = !small ? FIELD_HINTS[key]?.tooBig : undefined;
      return `${subject} must be ${relation} ${bound}${got}${hint ? ` (${hint})` : ''}`;
    }
    case 'invalid_type': {
      const raw = issue as { received?: string; message: string };
      const received = raw.received ?? /received (\w+)/.exec(raw.message)?.[1];
      if (received === 'undefined') return `${subject} is required`;
      if (received === 'NaN' || received === 'Infinity') return `${subject} must be a finite number, got ${received}`;
      return `${subject} must be ${KIND_WORDS[issue.expected] ?? issue.expected}${got}`;
    }
    case 'invalid_value':
      return `${subject} must be ${issue.values.length === 1 ? listWords(issue.values) : `one of ${listWords(issue.values)}`}${got}`;
    case 'invalid_union': {
      const options_ = (issue as { options?: unknown[] }).options;
      if (options_ && options_.length > 0) return `${subject} must be one of ${listWords(options_)}${got}`;
      return `${subject} is not in a form this field takes${got}`;
    }
    case 'unrecognized_keys': {
      const where = key === '' ? '' : ` in ${label}`;
      return issue.keys.map((unknownKey) => `"${unknownKey}" is not a field${where}`).join('; ');
    }
    case 'not_multiple_of':
      return `${subject} must be a multiple of ${String(issue.divisor)}${got}`;
    default:
      return ownWords(issue.message, subject, got);
  }
}

/** The first issue as one sentence (one line: a form shows one problem at a time). */
export function describeInvalidInput(error: z.ZodError, options: DescribeOptions = {}): string {
  return describeIssue(error.issues[0], options);
}
