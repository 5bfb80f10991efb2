/**
 * "Did you mean …?" for a misspelt key or flag: the known name nearest in edit distance, if it is
 * near enough to be a typo. Written here rather than taken from a package: twenty lines, and the
 * layers that need it (manifests, the API contract) import nothing but zod.
 */

/** Levenshtein distance, case-insensitive (one row of the dynamic programme at a time). */
export function editDistance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  let previous = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const current = [i];
    for (let j = 1; j <= y.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x[i - 1] === y[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[y.length];
}

/** The known name within a third of the word's length (at least 1, at most 3 edits), else undefined. */
export function closestName(word: string, known: readonly string[]): string | undefined {
  const budget = Math.min(3, Math.max(1, Math.floor(word.length / 3)));
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    const distance = editDistance(word, name);
    if (distance <= budget && (best === undefined || distance < best.distance)) best = { name, distance };
  }
  return best?.name;
}
