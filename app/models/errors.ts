/**
 * Every problem a user can hit while loading or wrapping a model (missing file, corrupt shard,
 * shape mismatch, bad manifest). The message is one line, names the file or field, and says what
 * was expected, so hosts can print it as it is.
 */
export class ModelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelError';
  }
}
