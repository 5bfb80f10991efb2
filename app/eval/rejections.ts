/**
 * A protected model (a classifier behind a SafetyNet-style detector, app/defenses/safetynet.ts)
 * refuses the inputs its detector flags. What it refuses is counted apart from what it classifies,
 * never folded into accuracy or destruction rate: on clean inputs a rejection is a false positive, on
 * adversarial ones a detection. correct + wrong + rejected is always the number of inputs.
 */
export interface ProtectedCounts {
  /** Classified (not rejected) and right. */
  correct: number;
  /** Classified and wrong: on adversarial inputs, the attack got through. */
  wrong: number;
  /** Flagged by the detector and refused. */
  rejected: number;
}

/** Per image of an attack: 1 where the detector flagged the clean image, and each adversarial view. */
export interface AttackRejections {
  clean: Uint8Array;
  perEpsilon: { float: Uint8Array; quantized: Uint8Array }[];
}

/** Counts over images: `rejected[i]` the detector's verdict, `correct(i)` the classifier's top-1 is right. */
export function protectedCounts(rejected: ArrayLike<number | boolean>, correct: (i: number) => boolean): ProtectedCounts {
  const counts: ProtectedCounts = { correct: 0, wrong: 0, rejected: 0 };
  for (let i = 0; i < rejected.length; i++) {
    if (rejected[i]) counts.rejected++;
    else if (correct(i)) counts.correct++;
    else counts.wrong++;
  }
  return counts;
}
