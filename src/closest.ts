/**
 * Did-you-mean, the one rule of nslocate: a mistyped command, flag, signal name or library option
 * is answered with the closest known word when it is near enough to be a typo (src/cli/usage.ts,
 * src/cli/top-level.ts, src/signal/parse.ts, src/api/check-options.ts).
 */

/**
 * The closest of `candidates` to `word` (Damerau-Levenshtein: a swap counts once), if it is close
 * enough to be a typo: at most 1 edit for words up to 4 letters, 2 up to 8, else 3; a candidate
 * that starts with `word` (an abbreviation, `--pid` for `--pidfile`) counts too. null when none is.
 * With ignoreCase, compared in lower case (the candidate is returned as given); maxEdits lowers
 * the budget (signal names are short: BOGUS is two edits from BUS, and no typo of it).
 */
export function closest(word: string, candidates: readonly string[], opts: {ignoreCase?: boolean; maxEdits?: number} = {}): string | null {
  const fold = (s: string) => (opts.ignoreCase ? s.toLowerCase() : s)
  const w = fold(word)
  const budget = Math.min(w.length <= 4 ? 1 : w.length <= 8 ? 2 : 3, opts.maxEdits ?? Infinity)
  let best: string | null = null
  let bestDistance = Infinity
  for (const c of candidates) {
    const f = fold(c)
    const d = f.startsWith(w) && w.length >= 3 ? 0.5 : distance(w, f)
    if (d < bestDistance) [best, bestDistance] = [c, d]
  }
  return bestDistance <= budget ? best : null
}

/** The number of insertions, deletions, substitutions and swaps of neighbours that make `a` into `b`. */
export function distance(a: string, b: string): number {
  const d: number[][] = Array.from({length: a.length + 1}, (_, i) => [i, ...Array<number>(b.length).fill(0)])
  for (let j = 1; j <= b.length; j++) d[0][j] = j
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1)
    }
  }
  return d[a.length][b.length]
}
