/**
 * Every problem a user can hit while loading or wrapping a model (missing file, corrupt shard,
 * shape mismatch, bad manifest). The message is one line, names the file or field, and says what
 * was expected, so hosts can print it as it is.
 */
/**
 * Why a file's text is not JSON, in words and without quoting it: JSON.parse's own message quotes
 * the text, so a binary file dropped as model.json printed as "Unexpected token '�', "����k�3�"…".
 */
export function notJsonReason(text: string, error: unknown): string {
  // eslint-disable-next-line no-control-regex -- control characters and U+FFFD (undecodable bytes) mark binary data
  if (/[\u0000-\u0008\u000e-\u001f\ufffd]/.test(text.slice(0, 1024))) return 'it holds binary data, not JSON text (a weights shard or an image?)';
  if (text.trim() === '') return 'it is empty';
  const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
  return message.replace(/, ".*" is not valid JSON$/, ' (not valid JSON)');
}

export class ModelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelError';
  }
}
