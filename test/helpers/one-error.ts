/** What every error of the command line looks like (issue 21, deliverable 3), asserted once for the tests that drive errors. */

// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f]/

/** The width an error line and its hint keep to, but for the values they quote (a path is as long as it is). */
export const ERROR_COLUMNS = 100

/**
 * stderr's lines: one `nslocate: ` error line and at most one hint line, each at most 100 columns
 * but for the `values` it quotes, no control character. Returns the lines.
 */
export function expectOneError(stderr: string, values: string[] = []): string[] {
  expect(stderr.endsWith('\n')).toBe(true)
  const lines = stderr.slice(0, -1).split('\n')
  expect(lines.length).toBeGreaterThanOrEqual(1)
  expect(lines.length).toBeLessThanOrEqual(2)
  expect(lines[0]).toMatch(/^nslocate: \S/)
  for (const l of lines) {
    const own = values.reduce((text, v) => text.split(v).join('V'), l)
    expect({line: l, width: own.length <= ERROR_COLUMNS}).toEqual({line: l, width: true})
    expect(CONTROL.test(l)).toBe(false)
  }
  return lines
}
