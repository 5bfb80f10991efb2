/** Errors a user of the attacks can hit, each with a one-line message that says what to fix. */

/** Inputs the attack cannot run on: wrong buffer length, labels out of range, negative ε, NaN, bad option. */
export class AttackInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AttackInputError';
  }
}

/** The model's output has no gradient w.r.t. its input image (missing kernel gradient, detached graph). */
export class GradientUnavailableError extends Error {
  readonly modelId: string;
  constructor(modelId: string, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(`Cannot take the gradient of model "${modelId}" w.r.t. its input: ${why.split('\n')[0]}`, { cause });
    this.name = 'GradientUnavailableError';
    this.modelId = modelId;
  }
}
