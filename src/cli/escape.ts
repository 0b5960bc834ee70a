/**
 * Text output never carries a terminal control sequence. A process's comm (prctl(PR_SET_NAME), a
 * binary's name), its cmdline, a pidfile's name and an engine's container names are chosen by
 * whoever started the process or made the file, and root reads nslocate's text in a terminal.
 *
 * The rule (docs/nslocate.1.md, NOTES, "Escaping"): every C0 control (0x00-0x1f, newline and tab
 * included), DEL (0x7f) and C1 control (U+0080-U+009F) is printed as `\xHH`; the Unicode line
 * and paragraph separators and the bidirectional controls (U+061C, U+200E, U+200F, U+2028-U+202E,
 * U+2066-U+2069) as `\uHHHH`. Everything else, a backslash included, is printed as is, so escaping
 * is idempotent and may be applied at more than one layer; --json carries the exact strings.
 */

// eslint-disable-next-line no-control-regex
const UNSAFE = /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g
// eslint-disable-next-line no-control-regex
const UNSAFE_BUT_NEWLINE = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g

function code(c: string): string {
  const n = c.charCodeAt(0)
  return n < 0x100 ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`
}

/** Does `s` hold a character escapeText() would change? */
export function hasUnsafe(s: string): boolean {
  UNSAFE.lastIndex = 0
  return UNSAFE.test(s)
}

/** One field (a path, a comm, a name): every control character escaped, newlines too. */
export function escapeText(s: string): string {
  return String(s).replace(UNSAFE, code)
}

/** Several lines nslocate itself laid out: each line escaped as escapeText does, the newlines between them kept. */
export function escapeLines(s: string): string {
  return String(s).replace(UNSAFE_BUT_NEWLINE, code)
}
