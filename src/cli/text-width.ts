/**
 * How many terminal columns text takes, for the progress line (src/cli/progress.ts), which must
 * never be wider than the terminal: a wrapped line cannot be redrawn in place, so each redraw would
 * leave a line behind and scroll the screen. A character of East Asian Width W or F (CJK, Hangul,
 * fullwidth forms, most emoji) takes 2 columns; a combining mark (Mn, Me), a format character (Cf:
 * ZWJ, ZWSP...) and a variation selector take none; anything else 1. The table is wcwidth's
 * (Markus Kuhn's, brought to Unicode 15's wide blocks), a little generous on symbols: a line
 * measured too wide is only shorter than it could be, one measured too narrow wraps.
 * Text is measured after escapeText(), so no control character is left in it.
 */

// [first, last] code points of 2 columns, sorted.
const WIDE: ReadonlyArray<readonly [number, number]> = [
  [0x1100, 0x115f],
  [0x231a, 0x231b],
  [0x2329, 0x232a],
  [0x23e9, 0x23ec],
  [0x23f0, 0x23f0],
  [0x23f3, 0x23f3],
  [0x25fd, 0x25fe],
  [0x2614, 0x2615],
  [0x2648, 0x2653],
  [0x267f, 0x267f],
  [0x2693, 0x2693],
  [0x26a1, 0x26a1],
  [0x26aa, 0x26ab],
  [0x26bd, 0x26be],
  [0x26c4, 0x26c5],
  [0x26ce, 0x26ce],
  [0x26d4, 0x26d4],
  [0x26ea, 0x26ea],
  [0x26f2, 0x26f3],
  [0x26f5, 0x26f5],
  [0x26fa, 0x26fa],
  [0x26fd, 0x26fd],
  [0x2705, 0x2705],
  [0x270a, 0x270b],
  [0x2728, 0x2728],
  [0x274c, 0x274c],
  [0x274e, 0x274e],
  [0x2753, 0x2755],
  [0x2757, 0x2757],
  [0x2795, 0x2797],
  [0x27b0, 0x27b0],
  [0x27bf, 0x27bf],
  [0x2b1b, 0x2b1c],
  [0x2b50, 0x2b50],
  [0x2b55, 0x2b55],
  [0x2e80, 0x303e],
  [0x3041, 0x33ff],
  [0x3400, 0x4dbf],
  [0x4e00, 0x9fff],
  [0xa000, 0xa4cf],
  [0xa960, 0xa97f],
  [0xac00, 0xd7a3],
  [0xf900, 0xfaff],
  [0xfe10, 0xfe19],
  [0xfe30, 0xfe6f],
  [0xff00, 0xff60],
  [0xffe0, 0xffe6],
  [0x16fe0, 0x16fe4],
  [0x17000, 0x18cff],
  [0x1b000, 0x1b2ff],
  [0x1f004, 0x1f004],
  [0x1f0cf, 0x1f0cf],
  [0x1f18e, 0x1f18e],
  [0x1f191, 0x1f19a],
  [0x1f200, 0x1f2ff],
  [0x1f300, 0x1f64f],
  [0x1f680, 0x1f6ff],
  [0x1f7e0, 0x1f7eb],
  [0x1f90c, 0x1f9ff],
  [0x1fa70, 0x1faff],
  [0x20000, 0x2fffd],
  [0x30000, 0x3fffd],
]

// combining marks (variation selectors included: they are Mn) and format characters
const ZERO = /^[\p{Mn}\p{Me}\p{Cf}]$/u

/** The columns one character (a code point) takes: 0, 1 or 2. */
export function charWidth(c: string): 0 | 1 | 2 {
  const n = c.codePointAt(0)!
  if (n < 0x300) return 1
  // Hangul medial vowels and finals join the syllable before them
  if (ZERO.test(c) || (n >= 0x1160 && n <= 0x11ff)) return 0
  let [lo, hi] = [0, WIDE.length - 1]
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    if (n < WIDE[mid][0]) hi = mid - 1
    else if (n > WIDE[mid][1]) lo = mid + 1
    else return 2
  }
  return 1
}

/** The columns `text` takes on a terminal. */
export function displayWidth(text: string): number {
  let w = 0
  for (const c of text) w += charWidth(c)
  return w
}

/** `text` cut to at most `columns` columns, never in the middle of a wide character; with `mark` ("...") at the end when cut, the mark counted in. */
export function truncateToWidth(text: string, columns: number, mark = ''): string {
  if (displayWidth(text) <= columns) return text
  const room = Math.max(0, columns - displayWidth(mark))
  let w = 0
  let out = ''
  for (const c of text) {
    const cw = charWidth(c)
    if (w + cw > room) break
    w += cw
    out += c
  }
  return out + mark
}
