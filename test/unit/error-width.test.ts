/**
 * The rule of every error line (docs/nslocate.1.md, OUTPUT, "Errors"), stated over the source
 * rather than over the errors a test happens to trigger: every error nslocate can raise prints as
 * one line `nslocate: FACT` of at most ERROR_WIDTH (100) columns, not counting the values it quotes
 * (paths, names, ids, the system's or an engine's words), then at most one `hint: ADVICE` line of
 * at most as many; the message ends with its advice (src/errors.ts), no line break in either.
 *
 * What is checked (the sites):
 * - every `new X(...)` in src/** whose X is Error or a subclass of it. NslocateError and RunFailure
 *   are what the command line prints as an error (src/cli/command.ts, errorReport; run's printError):
 *   their message and advice are evaluated statically, and the fact is the message without the
 *   advice, cut as the command line cuts it (factOf, src/errors.ts). Any other Error class must be
 *   listed in NOT_PRINTED with the reason its message is never an error line of its own; a new one
 *   fails here until it is placed;
 * - the verdicts of signal and wait, which report() prints through printError (src/cli/commands/
 *   report.ts) as an error when they fail: every object whose `outcome` is a SignalOutcome or a
 *   WaitOutcome (src/outcomes.ts) and that is given a `message` (an object literal, its `advice`
 *   beside it, an object spread into it included, a verdict's message passed on whole excepted;
 *   `x.message = ...` with the `x.advice = ...` of the same block; `x.message += ...` after each fact
 *   the functions x comes from give it, the widest counting: which one it follows is not known here);
 * - every other call of printError (run's own failures), every warning (Output.warn: `nslocate:
 *   warning: TEXT`, then its hint), and every text of src/** given to a call that starts with
 *   `nslocate: ` (a line written as it is, `out.logToStderr(`nslocate: ...`)`).
 *
 * Evaluating a text: string and template literals count their text; each `${...}` is a value (no
 * columns) unless it is text nslocate writes itself, which is followed:
 * - a literal, `+`, every branch of `?:`, `||` and `??` (the widest counts), a `const` (any file),
 *   a `static readonly` property, and a property or element of a const object or list literal
 *   (`CGROUP_NEEDS.access`, `WANT[check]`: each one when the key is not known);
 * - the option namer, `n('dir')`, rendered as the command line renders it: `--dir`;
 * - a call of a function of src/** (each of its returns, its parameters bound to the call's
 *   arguments), a function-typed property of an interface (`words.at(where)`: each object literal's
 *   implementation), a getter (`this.at`), a property of an interface (each value given to it), a
 *   property assigned just before in the same block (`out.advice = ...; out.message = `...${out.advice}``);
 * - a name destructured from a call (`const [code, message] = explain(...)`): that element or
 *   property of each array or object literal the call returns;
 * - a parameter of the function a construction is in: the construction is evaluated once per call
 *   of that function in src/** (its arguments bound), else each argument its callers pass;
 * - the `.join()` of a list made in src/**: an array literal (each element evaluated, spreads
 *   followed), `Object.keys()` of an object literal (`known.join(', ')` of an option table: every
 *   name counts), `.map(f)` of such a list (f of each element), `.filter`/`.slice` of one (all of
 *   it); `.map(f)` of a list made at run time counts f's text once (one element);
 * - a string method on text nslocate writes (`.trim()`, `.toLowerCase()`, `.slice()`, `.concat()`,
 *   `.replace()` of literals, ...), `String(x)`, `JSON.stringify(x)` (in quotes);
 * - the `message` and `advice` of a verdict (run --replace's failure, `${verdict.message}; ${advice}`): each
 *   message or advice a verdict of that kind (signal's, wait's) is given above.
 * A text reached through a name that is one word with a path's or an address's punctuation (a
 * path, a socket, host:port) is a value; so is a word that glues a value to such punctuation
 * (`unix://${p}`, `${dir}/x.sock`, `${host}:${port}`), and a value's "..." (cut short).
 * A value is a number, another error's `.message`, what a file, the kernel or an engine said, and
 * what a call outside src/** makes of values only (JSON.stringify(v), path.basename(p), the `.join()`
 * of a list of values). What cannot be followed and must not be taken for a value fails the site
 * unless listed in UNFOLLOWED with the reason: a `let` (or a mutable static property) holding text,
 * and a call outside src/** given nslocate's own words (`util.format('... %s', x)`).
 * A message in which nothing is text nslocate writes (another error's message passed through)
 * cannot be checked here: such sites are listed in UNEVALUABLE with the reason, and an unlisted one
 * fails.
 *
 * The message ends with its advice: each message of a site ends with one of its advice texts unless
 * the site may give none, and each advice text is what at least one of its messages ends with.
 * (A warning's text and hint are given apart: nothing to cut.)
 */
import * as path from 'node:path'
import * as ts from 'typescript'

import {ERROR_WIDTH} from '../../src/cli/error-lines'
import {flagNamer} from '../../src/cli/options'
import {factOf} from '../../src/errors'

const ROOT = path.resolve(__dirname, '..', '..')
const SRC = path.join(ROOT, 'src') + path.sep

/** A value the text quotes (a path, a name, a number, another error's or the system's words): it takes no columns. */
const VALUE = '\uE000'
/** No advice (undefined, null, or no `advice` at all). */
const NONE = '\uE001'
/** The most variants of one text kept (the widest), so that many `?:` in one message stay cheap. */
const MAX_VARIANTS = 512

/** The Error classes the command line prints as an error line, and where their message and advice are. */
const PRINTED: Record<string, {message: number; advice: {options: number} | {arg: number}}> = {
  NslocateError: {message: 1, advice: {options: 2}},
  RunFailure: {message: 1, advice: {arg: 2}},
}

/** The other Error classes of src/**, and why the message of one is never an error line of its own. */
const NOT_PRINTED: Record<string, string> = {
  Error:
    "a system-style error (a `code` and the system's words: ENOTDIR, ELOOP, EIO, ENOPROC, an HTTP status) that a printed message quotes as a value, " +
    'or a bug (a grammar or exit-status table out of step, a /proc text that cannot be parsed), which the front ends do not print as an error line',
  WalkError: "shaped as Node's system error (`ENOENT: no such file or directory, openat 'PATH'`); printed messages quote it as the system's words",
  BrokenLink: "locate()'s reason to answer `unknown` for a pidfile; it becomes evidence of find, never an error line",
  PidfileRefused: "locate()'s reason to answer `unknown` for a refused pidfile; it becomes evidence of find, never an error line",
}

/**
 * Sites whose message is only a value passed through (`file: message expression`): what is printed is
 * checked where that text is made. Keep this list short.
 */
const UNEVALUABLE: Record<string, string> = {
  'src/runtime/resolve.ts: error.message': "the one runtime's NOT_RUNNING error again, re-coded: its text was checked where that runtime's adapter made it",
  'src/runtime/container-target.ts: error.message':
    "the runtime's NOT_RUNNING error again, with the evidence of who answered: its text was checked where it was made",
  'src/cli/commands/report.ts: result.message': "signal's or wait's verdict, printed whole: each is checked where it is made (the verdict sites)",
  'src/cli/commands/run.ts: messageOf(error)': 'an NslocateError or RunFailure caught and printed by run: checked where it was constructed',
}

/**
 * What the evaluator cannot follow and lets pass as a value all the same (`file: name` of a `let`,
 * or the callee of a call outside src/** given nslocate's words), with the reason it is a value.
 * Keep this list short: every entry must still be met (the last test).
 */
const UNFOLLOWED: Record<string, string> = {
  'src/closest.ts: best': 'the closest of the candidates the caller gave (a command, a flag, a signal or an option name): one word it quotes',
}

// ---------------------------------------------------------------------------------------------

const config = ts.readConfigFile(path.join(ROOT, 'tsconfig.json'), ts.sys.readFile)
const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, ROOT)
const program = ts.createProgram(
  parsed.fileNames.filter((f) => path.resolve(f).startsWith(SRC)),
  {...parsed.options, noEmit: true},
)
const checker = program.getTypeChecker()
const sources = program.getSourceFiles().filter((sf) => path.resolve(sf.fileName).startsWith(SRC))
const rel = (node: ts.Node) => path.relative(ROOT, node.getSourceFile().fileName)
const where = (node: ts.Node) => `${rel(node)}:${node.getSourceFile().getLineAndCharacterOfPosition(node.getStart()).line + 1}`

const widthOf = (text: string) => [...text].filter((c) => c !== VALUE && c !== NONE).length
const shown = (text: string) => text.split(VALUE).join('{}')
const isValueOnly = (text: string) => widthOf(text) === 0

/** Whether the site at hand had variants left out (MAX_VARIANTS): then not every advice need be seen at the end of a message kept. */
let truncated = false
function unique(variants: string[]): string[] {
  const all = [...new Set(variants)]
  if (all.length <= MAX_VARIANTS) return all
  truncated = true
  return all.sort((a, b) => widthOf(b) - widthOf(a)).slice(0, MAX_VARIANTS)
}

function product(parts: string[][]): string[] {
  let out = ['']
  for (const part of parts) out = unique(out.flatMap((a) => part.map((b) => a + b)))
  return out
}

type FunctionLike = ts.SignatureDeclaration & {body?: ts.ConciseBody}

/** Every call in src/** of each function of src/**, for a parameter's arguments. */
const callsOf = new Map<ts.Node, ts.CallExpression[]>()
for (const sf of sources) {
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node)) {
      const decl = checker.getResolvedSignature(node)?.declaration
      if (decl && !ts.isJSDocSignature(decl) && path.resolve(decl.getSourceFile().fileName).startsWith(SRC)) {
        callsOf.set(decl, [...(callsOf.get(decl) ?? []), node])
      }
    }
    ts.forEachChild(node, visit)
  }
  visit(sf)
}

/**
 * The values of src/** given as a property of an object literal typed by an interface
 * (EngineWords' `at: (where) => ...`, its `unreachable: '...'`), or assigned to it (`handle.recordNote
 * = r.why`): reading that interface's property (or calling it) is each of them.
 */
const assignmentsOf = new Map<ts.Symbol, ts.Expression[]>()
for (const sf of sources) {
  const visit = (node: ts.Node): void => {
    if (ts.isBinaryExpression(node) && node.operatorToken.kind === ts.SyntaxKind.EqualsToken && ts.isPropertyAccessExpression(node.left)) {
      const property = checker.getSymbolAtLocation(node.left)
      if (property?.valueDeclaration && ts.isPropertySignature(property.valueDeclaration)) {
        assignmentsOf.set(property, [...(assignmentsOf.get(property) ?? []), node.right])
      }
    }
    if (
      (ts.isPropertyAssignment(node) || ts.isShorthandPropertyAssignment(node)) &&
      ts.isObjectLiteralExpression(node.parent) &&
      !ts.isComputedPropertyName(node.name)
    ) {
      const type = checker.getContextualType(node.parent)
      const property = type?.getProperty(node.name.getText())
      if (property && property.valueDeclaration && !ts.isPropertyAssignment(property.valueDeclaration)) {
        assignmentsOf.set(property, [...(assignmentsOf.get(property) ?? []), ts.isPropertyAssignment(node) ? node.initializer : node.name])
      }
    }
    ts.forEachChild(node, visit)
  }
  visit(sf)
}
const implementationsOf = (property: ts.Symbol): FunctionLike[] | undefined => {
  const fs = (assignmentsOf.get(property) ?? []).filter(
    (e): e is ts.ArrowFunction | ts.FunctionExpression => ts.isArrowFunction(e) || ts.isFunctionExpression(e),
  )
  return fs.length ? fs : undefined
}

function symbolOf(node: ts.Node): ts.Symbol | undefined {
  // `{advice}`: the variable, not the property
  const shorthand = node.parent && ts.isShorthandPropertyAssignment(node.parent) && node.parent.name === node
  const symbol = shorthand ? checker.getShorthandAssignmentValueSymbol(node.parent) : checker.getSymbolAtLocation(node)
  return symbol && symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol
}

const isConst = (d: ts.VariableDeclaration) => (ts.getCombinedNodeFlags(d) & ts.NodeFlags.Const) !== 0
const isFunctionLike = (node: ts.Node): node is FunctionLike =>
  ts.isArrowFunction(node) || ts.isFunctionExpression(node) || ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node)
const inSrc = (node: ts.Node) => path.resolve(node.getSourceFile().fileName).startsWith(SRC)
/** Whether `e` may hold text (its type is a string, or a union with one). */
const isTextual = (e: ts.Node) => {
  const t = checker.getTypeAtLocation(e)
  return (t.flags & ts.TypeFlags.StringLike) !== 0 || (t.isUnion() && t.types.some((u) => (u.flags & ts.TypeFlags.StringLike) !== 0))
}
const isStaticReadonly = (d: ts.PropertyDeclaration) => {
  const flags = ts.getCombinedModifierFlags(d)
  return (flags & ts.ModifierFlags.Static) !== 0 && (flags & ts.ModifierFlags.Readonly) !== 0
}
/** A property of an object literal that is a const's value (through `as`, `satisfies`, parentheses). */
function isConstObjectProperty(d: ts.Node): d is ts.PropertyAssignment {
  if (!ts.isPropertyAssignment(d) || !inSrc(d)) return false
  let o: ts.Node = d.parent
  while (o.parent && (ts.isAsExpression(o.parent) || ts.isSatisfiesExpression(o.parent) || ts.isParenthesizedExpression(o.parent))) o = o.parent
  return ts.isVariableDeclaration(o.parent) && isConst(o.parent)
}

/** The function an expression names (`(n) => ...`, a const arrow, a function of src/**), if it is one. */
function functionOf(e: ts.Expression, depth = 0): FunctionLike | undefined {
  e = skipOuter(e)
  if (isFunctionLike(e)) return e
  if (ts.isIdentifier(e) && depth < 8) {
    const d = symbolOf(e)?.valueDeclaration
    if (d && ts.isVariableDeclaration(d) && isConst(d) && d.initializer) return functionOf(d.initializer, depth + 1)
    if (d && ts.isFunctionDeclaration(d) && inSrc(d)) return d
  }
  return undefined
}

function skipOuter(e: ts.Expression): ts.Expression {
  while (
    ts.isParenthesizedExpression(e) ||
    ts.isAsExpression(e) ||
    ts.isNonNullExpression(e) ||
    ts.isTypeAssertionExpression(e) ||
    ts.isSatisfiesExpression(e) ||
    ts.isAwaitExpression(e)
  ) {
    e = e.expression
  }
  return e
}

/**
 * What evaluation carries along: the declarations being followed (no cycle), and the parameters
 * bound to the arguments of the call being followed (`why(n)` in a message: its `n`, this call's
 * argument); a parameter not bound so is each argument its callers pass.
 */
interface Ctx {
  seen: Set<ts.Node>
  args: Map<ts.Node, Bound>
}
/** A parameter bound to an argument: its texts, and the argument itself and where it is evaluated (for a list, an object's keys, a verdict's kind). */
interface Bound {
  texts: () => string[]
  expr?: ts.Expression
  cx: Ctx
}
const TOP: Ctx = {seen: new Set(), args: new Map()}

/**
 * What the evaluation of the site at hand met that it cannot follow and must not take for a value
 * (a `let` holding text, a call outside src/** given nslocate's words), unless UNFOLLOWED lists it.
 */
let strays = new Set<string>()
const unfollowedMet = new Set<string>()
function stray(key: string, node: ts.Node, what: string): string[] {
  if (key in UNFOLLOWED) unfollowedMet.add(key)
  else strays.add(`${what} at ${where(node)} (not followed: list \`${key}\` in UNFOLLOWED with the reason if it is a value)`)
  return [VALUE]
}

/** The texts a function returns (each `return`, or its expression body). */
function returnsOf(f: FunctionLike, depth: number, cx: Ctx): string[] {
  if (!f.body || cx.seen.has(f) || depth > 8) return [VALUE]
  const inner = {...cx, seen: new Set(cx.seen).add(f)}
  if (!ts.isBlock(f.body)) return evalText(f.body, depth + 1, inner)
  const out: string[] = []
  const visit = (node: ts.Node): void => {
    if (ts.isReturnStatement(node)) out.push(...(node.expression ? evalText(node.expression, depth + 1, inner) : [NONE]))
    else if (!isFunctionLike(node)) ts.forEachChild(node, visit)
  }
  ts.forEachChild(f.body, visit)
  return out.length ? unique(out) : [VALUE]
}

/** Is `callee` the option namer (OptionNamer: `n('dir')` is `--dir` on the command line)? */
function isNamer(callee: ts.Expression): boolean {
  const type = checker.getTypeAtLocation(callee)
  return type.aliasSymbol?.name === 'OptionNamer'
}

/**
 * Texts that reach a message through a name (a const, a parameter, a property): one that is a
 * single word with a path's or an address's punctuation (a path, a socket, host:port) is a value the
 * message quotes; anything else (a phrase, a variable's name, 'Docker') is nslocate's words and counts.
 */
function quoted(variants: string[]): string[] {
  return unique(variants.map((t) => (t !== '' && !t.includes(VALUE) && !t.includes(NONE) && !/\s/.test(t) && /[/:.@]/.test(t) ? VALUE : t)))
}

/** Whether condition `c` (a name, or `!` a name, of a string or undefined) is true, when every text it can be says so; null when not known. */
function truthOf(c: ts.Expression, depth: number, cx: Ctx): boolean | null {
  c = skipOuter(c)
  if (ts.isPrefixUnaryExpression(c) && c.operator === ts.SyntaxKind.ExclamationToken) {
    const t = truthOf(c.operand, depth, cx)
    return t === null ? null : !t
  }
  // `x === undefined`, `x !== null`: whether x is given
  if (
    ts.isBinaryExpression(c) &&
    [
      ts.SyntaxKind.EqualsEqualsEqualsToken,
      ts.SyntaxKind.EqualsEqualsToken,
      ts.SyntaxKind.ExclamationEqualsEqualsToken,
      ts.SyntaxKind.ExclamationEqualsToken,
    ].includes(c.operatorToken.kind)
  ) {
    const right = skipOuter(c.right)
    if (right.kind !== ts.SyntaxKind.NullKeyword && !(ts.isIdentifier(right) && right.text === 'undefined')) return null
    const given = truthOf(c.left, depth, cx)
    if (given === null) return null
    const equal = c.operatorToken.kind === ts.SyntaxKind.EqualsEqualsEqualsToken || c.operatorToken.kind === ts.SyntaxKind.EqualsEqualsToken
    return equal ? !given : given
  }
  // (a string that may be missing: not a boolean, whose value is no text)
  const type = checker.getNonNullableType(checker.getTypeAtLocation(c))
  const stringy = (t: ts.Type) => (t.flags & ts.TypeFlags.StringLike) !== 0
  if (!ts.isIdentifier(c) || !(stringy(type) || (type.isUnion() && type.types.every(stringy)))) return null
  const d = symbolOf(c)?.valueDeclaration
  if (!d || !cx.args.has(d)) return null
  const texts = cx.args.get(d)!.texts()
  if (texts.every((t) => t === NONE || t === '')) return false
  if (texts.every((t) => t !== NONE && t !== '')) return true
  return null
}

/** The texts `e` can be, with VALUE for each value it quotes. */
function evalText(e: ts.Expression, depth = 0, cx: Ctx = TOP): string[] {
  e = skipOuter(e)
  if (depth > 16) return [VALUE]
  if (ts.isStringLiteral(e) || ts.isNoSubstitutionTemplateLiteral(e) || ts.isNumericLiteral(e)) return [e.text]
  if (ts.isTemplateExpression(e)) {
    // `${x}` of undefined or null would print "undefined": a variant with one is one the code guards against (`${a ? `; ${a}` : ''}`).
    const all = product([[e.head.text], ...e.templateSpans.flatMap((s) => [evalText(s.expression, depth + 1, cx), [s.literal.text]])])
    const some = all.filter((t) => !t.includes(NONE))
    // (when every variant has one, the guard is not seen: it is a value, the text around it counts)
    return some.length ? some : unique(all.map((t) => t.split(NONE).join(VALUE)))
  }
  if (e.kind === ts.SyntaxKind.NullKeyword) return [NONE]
  if (ts.isConditionalExpression(e)) {
    // `advice ? `; ${advice}` : ''` where advice is known to be given (or known not to be): that branch only.
    const known = truthOf(e.condition, depth, cx)
    if (known !== null) return evalText(known ? e.whenTrue : e.whenFalse, depth + 1, cx)
    return unique([...evalText(e.whenTrue, depth + 1, cx), ...evalText(e.whenFalse, depth + 1, cx)])
  }
  // A number (`${i + 1}`, `${n * 2}`) is a value, whatever it is made of.
  if (checker.getTypeAtLocation(e).flags & ts.TypeFlags.NumberLike) return [VALUE]
  if (ts.isBinaryExpression(e)) {
    const op = e.operatorToken.kind
    if (op === ts.SyntaxKind.PlusToken) {
      const all = product([evalText(e.left, depth + 1, cx), evalText(e.right, depth + 1, cx)])
      const some = all.filter((t) => !t.includes(NONE))
      return some.length ? some : unique(all.map((t) => t.split(NONE).join(VALUE)))
    }
    if (op === ts.SyntaxKind.BarBarToken || op === ts.SyntaxKind.QuestionQuestionToken) {
      return unique([...evalText(e.left, depth + 1, cx), ...evalText(e.right, depth + 1, cx)])
    }
    return [VALUE]
  }
  if (ts.isIdentifier(e)) return quoted(evalIdentifier(e, depth, cx))
  if (ts.isElementAccessExpression(e)) {
    // `WANT[check]`, `NAMES[i]`: the member of a const object or list literal (each one, the key not known).
    const members = membersOf(e, depth, cx)
    return members ? quoted(unique(members.flatMap((m) => evalText(m.e, depth + 1, m.cx)))) : [VALUE]
  }
  if (ts.isPropertyAccessExpression(e)) {
    const symbol = symbolOf(e)
    const d = symbol?.valueDeclaration
    if (d && ts.isVariableDeclaration(d) && isConst(d) && d.initializer && !cx.seen.has(d)) {
      return quoted(evalText(d.initializer, depth + 1, {...cx, seen: new Set(cx.seen).add(d)}))
    }
    // A property of a const object literal (`CGROUP_NEEDS.access`): its value.
    if (d && isConstObjectProperty(d) && !cx.seen.has(d)) return quoted(evalText(d.initializer, depth + 1, {...cx, seen: new Set(cx.seen).add(d)}))
    // A static readonly property of a class of src/** (`Refusals.ADVICE`): its value; a static one that may change is not followed.
    if (d && ts.isPropertyDeclaration(d) && inSrc(d) && !cx.seen.has(d) && ts.getCombinedModifierFlags(d) & ts.ModifierFlags.Static) {
      if (isStaticReadonly(d) && d.initializer) return quoted(evalText(d.initializer, depth + 1, {...cx, seen: new Set(cx.seen).add(d)}))
      if (isTextual(e)) return stray(`${rel(d)}: ${e.name.text}`, e, `static property ${e.getText()} that is not readonly`)
    }
    // A getter of a class of src/** (`this.at`): what it returns.
    if (d && ts.isGetAccessorDeclaration(d) && d.body && inSrc(d) && !cx.seen.has(d)) {
      const returns: string[] = []
      const inner = {...cx, seen: new Set(cx.seen).add(d)}
      const visit = (node: ts.Node): void => {
        if (ts.isReturnStatement(node) && node.expression) returns.push(...evalText(node.expression, depth + 1, inner))
        else if (!isFunctionLike(node)) ts.forEachChild(node, visit)
      }
      ts.forEachChild(d.body, visit)
      if (returns.length) return unique(returns)
    }
    // Assigned just before, in the same block (`out.advice = '...'; out.message = `...; ${out.advice}``): that value.
    const before = assignedBefore(e)
    if (before && !cx.seen.has(before)) return quoted(evalText(before, depth + 1, {...cx, seen: new Set(cx.seen).add(before)}))
    // The message or advice of a verdict (run --replace's failure prints the verdict): each a verdict of that kind is given.
    const family = e.name.text === 'message' || e.name.text === 'advice' ? familyOfExpression(e.expression, cx) : null
    if (family !== null) {
      // Every message and every advice of the family, apart: which advice goes with which message
      // is checked at each verdict's own site, so here only "some advice ends some message" (as for
      // variants left out).
      truncated = true
      return verdictTexts(family, e.name.text as 'message' | 'advice')
    }
    // A property of an interface (words.unreachable): each value object literals of src/** give it.
    const given = symbol && d && !cx.seen.has(d) ? assignmentsOf.get(symbol) : undefined
    if (given && !given.some((x) => ts.isArrowFunction(x) || ts.isFunctionExpression(x))) {
      return quoted(unique(given.flatMap((x) => evalText(x, depth + 1, {...cx, seen: new Set(cx.seen).add(d!)}))))
    }
    return [VALUE]
  }
  if (ts.isCallExpression(e)) return evalCall(e, depth, cx)
  return [VALUE]
}

/** The value `x.p = VALUE` gave `x.p` in a statement before the one `e` (`x.p`) is in, in the same block; undefined when none did. */
function assignedBefore(e: ts.PropertyAccessExpression): ts.Expression | undefined {
  let statement: ts.Node = e
  while (statement.parent && !ts.isBlock(statement.parent) && !ts.isSourceFile(statement.parent)) statement = statement.parent
  if (!statement.parent || !ts.isBlock(statement.parent)) return undefined
  const block = statement.parent.statements
  for (let i = block.indexOf(statement as ts.Statement) - 1; i >= 0; i--) {
    const s = block[i]
    if (
      ts.isExpressionStatement(s) &&
      ts.isBinaryExpression(s.expression) &&
      s.expression.operatorToken.kind === ts.SyntaxKind.EqualsToken &&
      s.expression.left.getText() === e.getText()
    ) {
      return s.expression.right
    }
  }
  return undefined
}

function evalIdentifier(e: ts.Identifier, depth: number, cx: Ctx): string[] {
  if (e.text === 'undefined') return [NONE]
  const d = symbolOf(e)?.valueDeclaration
  if (!d) return [VALUE]
  const bound = cx.args.get(d)
  if (bound) return bound.texts()
  if (cx.seen.has(d)) return [VALUE]
  const inner = {...cx, seen: new Set(cx.seen).add(d)}
  if (ts.isVariableDeclaration(d)) {
    // A `let` holding text: each value it is given (the widest counts); one it is given unseen is not followed, and no value either.
    if (!isConst(d) && inSrc(d) && !ts.isCatchClause(d.parent) && isTextual(e)) {
      const given = letValues(d, depth, inner)
      return given ?? stray(`${rel(d)}: ${e.text}`, e, `\`let ${e.text}\`, given a value the evaluator cannot see`)
    }
    if (!isConst(d) || !d.initializer || !inSrc(d)) return [VALUE]
    const f = functionOf(d.initializer)
    return f ? [VALUE] : evalText(d.initializer, depth + 1, inner)
  }
  if (ts.isBindingElement(d)) {
    const decl = ts.walkUpBindingElementsAndPatterns(d)
    if (ts.isVariableDeclaration(decl) && !isConst(decl) && inSrc(d) && isTextual(e)) return stray(`${rel(d)}: ${e.text}`, e, `\`let ${e.text}\``)
    return evalBinding(d, depth, inner)
  }
  if (ts.isParameter(d) && ts.isIdentifier(d.name) && !d.dotDotDotToken) {
    // A parameter of no call being followed: each argument the function's callers pass for it (its default when one leaves it out).
    const f = d.parent as FunctionLike
    const i = f.parameters.indexOf(d)
    const calls = callsOf.get(f) ?? []
    if (calls.length === 0) return [VALUE]
    return unique(
      calls.flatMap((call) => {
        const arg = call.arguments[i]
        if (arg) return evalText(arg, depth + 1, inner)
        return d.initializer ? evalText(d.initializer, depth + 1, inner) : [NONE]
      }),
    )
  }
  return [VALUE]
}

/**
 * The texts a `let` can hold: its initializer and each value assigned to it in its scope (`x = a`,
 * `x ??= a`; `x += a` after each of the others); null when it is given a value otherwise
 * (destructuring, a for-of loop).
 */
function letValues(d: ts.VariableDeclaration, depth: number, cx: Ctx): string[] | null {
  if (!ts.isIdentifier(d.name) || !ts.isVariableDeclarationList(d.parent) || !ts.isVariableStatement(d.parent.parent)) return null
  const symbol = checker.getSymbolAtLocation(d.name)
  const set: ts.Expression[] = d.initializer ? [d.initializer] : []
  const appended: ts.Expression[] = []
  let unseen = false
  const isIt = (n: ts.Node) => ts.isIdentifier(n) && checker.getSymbolAtLocation(n) === symbol
  const visit = (n: ts.Node): void => {
    if (ts.isBinaryExpression(n) && n.operatorToken.kind >= ts.SyntaxKind.FirstAssignment && n.operatorToken.kind <= ts.SyntaxKind.LastAssignment) {
      const left = skipOuter(n.left)
      if (isIt(left)) (n.operatorToken.kind === ts.SyntaxKind.PlusEqualsToken ? appended : set).push(n.right)
      else if ((ts.isArrayLiteralExpression(left) || ts.isObjectLiteralExpression(left)) && containsIt(left)) unseen = true
    }
    ts.forEachChild(n, visit)
  }
  const containsIt = (n: ts.Node): boolean => isIt(n) || (ts.forEachChild(n, (c) => (containsIt(c) ? true : undefined)) ?? false)
  let scope: ts.Node = d.parent.parent
  while (scope.parent && !ts.isFunctionLike(scope) && !ts.isSourceFile(scope)) scope = scope.parent
  visit(scope)
  if (unseen) return null
  const base = set.length ? unique(set.flatMap((x) => evalText(x, depth + 1, cx))) : [NONE]
  return appended.length ? unique([...base, ...product([base, unique(appended.flatMap((x) => evalText(x, depth + 1, cx)))])]) : base
}

/**
 * A name destructured from a const's value (`const [code, message] = explain(...)`, `const {why,
 * advice} = refusal(...)`): its element or property in each array or object literal the value can be.
 */
function evalBinding(d: ts.BindingElement, depth: number, cx: Ctx): string[] {
  const pattern = d.parent
  const decl = pattern.parent
  if (!ts.isVariableDeclaration(decl) || !isConst(decl) || !decl.initializer || d.dotDotDotToken) return [VALUE]
  const key = ts.isArrayBindingPattern(pattern) ? pattern.elements.indexOf(d) : (d.propertyName ?? d.name).getText()
  const out: string[] = []
  for (const {e, cx: at} of shapesOf(decl.initializer, depth + 1, cx)) {
    if (ts.isArrayLiteralExpression(e) && typeof key === 'number') out.push(...(e.elements[key] ? evalText(e.elements[key], depth + 1, at) : [NONE]))
    else if (ts.isObjectLiteralExpression(e) && typeof key === 'string') {
      const p = e.properties.find((q) => q.name?.getText() === key)
      if (p && ts.isPropertyAssignment(p)) out.push(...evalText(p.initializer, depth + 1, at))
      else if (p && ts.isShorthandPropertyAssignment(p)) out.push(...evalText(p.name, depth + 1, at))
      else out.push(p ? VALUE : NONE)
    } else out.push(VALUE)
  }
  return out.length ? unique(out) : [VALUE]
}

/**
 * The expressions a name stands for, each with where to evaluate it: a bound parameter's argument,
 * each argument the callers of an unbound one pass, a const's value, a static readonly property's,
 * a const object literal's property; null when it is none of these.
 */
function definitionsOf(e: ts.Expression, cx: Ctx): Array<{e: ts.Expression; cx: Ctx}> | null {
  const d = symbolOf(e)?.valueDeclaration
  if (!d) return null
  const bound = cx.args.get(d)
  if (bound) return bound.expr ? [{e: bound.expr, cx: bound.cx}] : null
  if (cx.seen.has(d) || !inSrc(d)) return null
  const inner = {...cx, seen: new Set(cx.seen).add(d)}
  if (ts.isVariableDeclaration(d) && isConst(d) && d.initializer) return [{e: d.initializer, cx: inner}]
  if (ts.isPropertyDeclaration(d) && isStaticReadonly(d) && d.initializer) return [{e: d.initializer, cx: inner}]
  if (isConstObjectProperty(d)) return [{e: d.initializer, cx: inner}]
  if (ts.isParameter(d) && ts.isIdentifier(d.name) && !d.dotDotDotToken) {
    const f = d.parent as FunctionLike
    const i = f.parameters.indexOf(d)
    const given = (callsOf.get(f) ?? []).map((call) => call.arguments[i] ?? d.initializer).filter((a): a is ts.Expression => a !== undefined)
    return given.length ? given.map((a) => ({e: a, cx: {...TOP, seen: inner.seen}})) : null
  }
  return null
}

/** The members `X[k]` can be when X is a const object or list literal: that one for a literal key, else each. */
function membersOf(e: ts.ElementAccessExpression, depth: number, cx: Ctx): Array<{e: ts.Expression; cx: Ctx}> | null {
  const key = skipOuter(e.argumentExpression)
  const literal = ts.isStringLiteral(key) || ts.isNumericLiteral(key) ? key.text : null
  const out: Array<{e: ts.Expression; cx: Ctx}> = []
  const add = (shapes: Array<{e: ts.Expression; cx: Ctx}>, level: number): boolean => {
    for (const s of shapes) {
      const o = skipOuter(s.e)
      if (ts.isObjectLiteralExpression(o)) {
        for (const p of o.properties) {
          // an object spread in (`{...FIND, scope: SCOPES}`): its members too
          if (ts.isSpreadAssignment(p)) {
            if (level > 8 || !add(shapesOf(p.expression, depth + 1, s.cx), level + 1)) return false
            continue
          }
          const name = p.name && !ts.isComputedPropertyName(p.name) ? p.name.getText().replace(/^['"]|['"]$/g, '') : null
          if (literal !== null && name !== literal) continue
          if (ts.isPropertyAssignment(p)) out.push({e: p.initializer, cx: s.cx})
          else if (ts.isShorthandPropertyAssignment(p)) out.push({e: p.name, cx: s.cx})
        }
      } else if (ts.isArrayLiteralExpression(o)) {
        o.elements.forEach((x, i) => {
          if (!ts.isSpreadElement(x) && !ts.isOmittedExpression(x) && (literal === null || Number(literal) === i)) out.push({e: x, cx: s.cx})
        })
      } else return false
    }
    return true
  }
  return add(shapesOf(e.expression, depth + 1, cx), 0) && out.length ? out : null
}

/** The expressions a value can be, each with where to evaluate it: through `?:`, `||`, `??`, a name, a member, and the returns of a call of src/**. */
function shapesOf(e: ts.Expression, depth: number, cx: Ctx): Array<{e: ts.Expression; cx: Ctx}> {
  e = skipOuter(e)
  if (depth > 16) return []
  if (ts.isConditionalExpression(e)) {
    // `advice === undefined ? {message} : {message: ..., advice}` where advice is known to be given (or known not to be): that branch only
    const known = truthOf(e.condition, depth, cx)
    if (known !== null) return shapesOf(known ? e.whenTrue : e.whenFalse, depth + 1, cx)
    return [...shapesOf(e.whenTrue, depth + 1, cx), ...shapesOf(e.whenFalse, depth + 1, cx)]
  }
  if (ts.isBinaryExpression(e) && (e.operatorToken.kind === ts.SyntaxKind.BarBarToken || e.operatorToken.kind === ts.SyntaxKind.QuestionQuestionToken)) {
    return [...shapesOf(e.left, depth + 1, cx), ...shapesOf(e.right, depth + 1, cx)]
  }
  if (ts.isIdentifier(e) || ts.isPropertyAccessExpression(e)) {
    const defs = definitionsOf(e, cx)
    return defs ? defs.flatMap((x) => shapesOf(x.e, depth + 1, x.cx)) : [{e, cx}]
  }
  if (ts.isElementAccessExpression(e)) {
    const members = membersOf(e, depth, cx)
    return members ? members.flatMap((m) => shapesOf(m.e, depth + 1, m.cx)) : [{e, cx}]
  }
  if (ts.isCallExpression(e)) {
    const f = checker.getResolvedSignature(e)?.declaration
    if (!f || ts.isJSDocSignature(f) || !isFunctionLike(f) || !inSrc(f) || !f.body || cx.seen.has(f)) return [{e, cx}]
    const inner = {seen: new Set(cx.seen).add(f), args: bindArguments(f, e, depth, cx)}
    if (!ts.isBlock(f.body)) return shapesOf(f.body, depth + 1, inner)
    const out: Array<{e: ts.Expression; cx: Ctx}> = []
    const visit = (node: ts.Node): void => {
      if (ts.isReturnStatement(node) && node.expression) out.push(...shapesOf(node.expression, depth + 1, inner))
      else if (!isFunctionLike(node)) ts.forEachChild(node, visit)
    }
    ts.forEachChild(f.body, visit)
    return out
  }
  return [{e, cx}]
}

/** A list as the evaluator knows it: the texts of each element, in order. */
type List = string[][]
const MAX_LISTS = 64

/**
 * The lists `e` can be, when it is a list made in src/**: an array literal (spreads followed), a
 * name for one, `Object.keys()` of an object literal, `.map(f)`, `.filter()`, `.slice()` of one,
 * `new Set(list)`, what a function of src/** returns. `.map(f)` of a list made at run time is one
 * element, f's. null when not known.
 */
function evalList(e: ts.Expression, depth: number, cx: Ctx): List[] | null {
  e = skipOuter(e)
  if (depth > 16) return null
  if (ts.isArrayLiteralExpression(e)) {
    let out: List[] = [[]]
    for (const x of e.elements) {
      if (ts.isOmittedExpression(x)) continue
      if (ts.isSpreadElement(x)) {
        const sub = evalList(x.expression, depth + 1, cx)
        if (!sub) return null
        out = out.flatMap((l) => sub.map((s) => [...l, ...s])).slice(0, MAX_LISTS)
      } else {
        const t = evalText(x, depth + 1, cx)
        out = out.map((l) => [...l, t])
      }
    }
    return out
  }
  if (ts.isConditionalExpression(e)) {
    const [a, b] = [evalList(e.whenTrue, depth + 1, cx), evalList(e.whenFalse, depth + 1, cx)]
    return a && b ? [...a, ...b].slice(0, MAX_LISTS) : null
  }
  if (ts.isNewExpression(e) && ts.isIdentifier(e.expression) && e.expression.text === 'Set' && e.arguments?.[0]) return evalList(e.arguments[0], depth + 1, cx)
  if (ts.isIdentifier(e) || ts.isPropertyAccessExpression(e) || ts.isElementAccessExpression(e)) {
    const defs = ts.isElementAccessExpression(e) ? membersOf(e, depth, cx) : definitionsOf(e, cx)
    if (!defs) return null
    // the members of an object that are lists (`table[key]` of an option table: each list of it)
    const lists = defs.map((x) => evalList(x.e, depth + 1, x.cx))
    const known = lists.filter((l): l is List[] => l !== null).flat()
    return known.length && (ts.isElementAccessExpression(e) || lists.every((l) => l !== null)) ? known.slice(0, MAX_LISTS) : null
  }
  if (ts.isCallExpression(e)) {
    const callee = e.expression
    if (ts.isPropertyAccessExpression(callee)) {
      const method = callee.name.text
      if (method === 'keys' && callee.expression.getText() === 'Object' && e.arguments[0]) return keysOf(e.arguments[0], depth + 1, cx)
      if (['filter', 'slice', 'sort', 'toSorted', 'reverse', 'toReversed'].includes(method)) return evalList(callee.expression, depth + 1, cx)
      if (method === 'concat') {
        const parts = [callee.expression, ...e.arguments].map((x) => evalList(x, depth + 1, cx))
        if (parts.some((p) => p === null)) return null
        return parts.reduce<List[]>((acc, p) => acc.flatMap((l) => p!.map((q) => [...l, ...q])).slice(0, MAX_LISTS), [[]])
      }
      if (method === 'map' && e.arguments[0]) {
        const f = functionOf(e.arguments[0])
        if (!f) return null
        const given = evalList(callee.expression, depth + 1, cx) ?? [[[VALUE]]]
        const param = f.parameters[0]
        const each = (texts: string[]): string[] => {
          const args = new Map(cx.args)
          if (param) args.set(param, {texts: () => texts, cx})
          return returnsOf(f, depth + 1, {seen: cx.seen, args})
        }
        return given.map((l) => l.map(each))
      }
    }
    const shapes = shapesOf(e, depth + 1, cx)
    if (shapes.length === 1 && shapes[0].e === e) return null
    const lists = shapes.map((s) => evalList(s.e, depth + 1, s.cx))
    return lists.every((l) => l !== null) && lists.length ? (lists as List[][]).flat().slice(0, MAX_LISTS) : null
  }
  return null
}

/** The names Object.keys() gives of `e` when it is an object literal (spreads followed, a rest binding without the names before it); null when not known. */
function keysOf(e: ts.Expression, depth: number, cx: Ctx): List[] | null {
  e = skipOuter(e)
  if (depth > 16) return null
  if (ts.isObjectLiteralExpression(e)) {
    let out: List[] = [[]]
    for (const p of e.properties) {
      if (ts.isSpreadAssignment(p)) {
        const sub = keysOf(p.expression, depth + 1, cx)
        if (!sub) return null
        out = out.flatMap((l) => sub.map((s) => [...l, ...s])).slice(0, MAX_LISTS)
      } else {
        const name = p.name && !ts.isComputedPropertyName(p.name) ? p.name.getText().replace(/^['"]|['"]$/g, '') : VALUE
        out = out.map((l) => [...l, [name]])
      }
    }
    // Object.keys gives each name once, where it first came
    return out.map((l) => l.filter((x, i) => x[0] === VALUE || l.findIndex((y) => y[0] === x[0]) === i))
  }
  if (ts.isConditionalExpression(e)) {
    const [a, b] = [keysOf(e.whenTrue, depth + 1, cx), keysOf(e.whenFalse, depth + 1, cx)]
    return a && b ? [...a, ...b] : null
  }
  if (ts.isIdentifier(e)) {
    // `const {pidfile, env, ...LIST} = FIND`: FIND's names but those
    const d = symbolOf(e)?.valueDeclaration
    if (d && ts.isBindingElement(d) && d.dotDotDotToken && ts.isObjectBindingPattern(d.parent) && ts.isVariableDeclaration(d.parent.parent)) {
      const init = d.parent.parent.initializer
      const taken = new Set(d.parent.elements.filter((x) => x !== d).map((x) => (x.propertyName ?? x.name).getText()))
      const all = init ? keysOf(init, depth + 1, cx) : null
      return all ? all.map((l) => l.filter((x) => !taken.has(x[0]))) : null
    }
  }
  if (ts.isIdentifier(e) || ts.isPropertyAccessExpression(e)) {
    const defs = definitionsOf(e, cx)
    if (!defs) return null
    const lists = defs.map((x) => keysOf(x.e, depth + 1, x.cx))
    return lists.every((l) => l !== null) ? (lists as List[][]).flat().slice(0, MAX_LISTS) : null
  }
  if (ts.isCallExpression(e)) {
    const shapes = shapesOf(e, depth + 1, cx)
    if (shapes.length === 1 && shapes[0].e === e) return null
    const lists = shapes.map((s) => keysOf(s.e, depth + 1, s.cx))
    return lists.every((l) => l !== null) && lists.length ? (lists as List[][]).flat().slice(0, MAX_LISTS) : null
  }
  return null
}

/** The texts of `lists` joined by `seps`: every element counts. */
function joined(lists: List[], seps: string[]): string[] {
  return unique(lists.flatMap((l) => seps.flatMap((s) => product(l.flatMap((x, i) => (i ? [[s], x] : [x]))))))
}

/** String methods that read as their text does, for a message: applied to each text (a value stays a value). */
const STRING_METHODS = new Set([
  'trim',
  'trimStart',
  'trimEnd',
  'toLowerCase',
  'toUpperCase',
  'toLocaleLowerCase',
  'toLocaleUpperCase',
  'normalize',
  'toString',
  'valueOf',
  'slice',
  'substring',
  'substr',
  'charAt',
  'at',
  'padStart',
  'padEnd',
  'repeat',
  'replace',
  'replaceAll',
  'concat',
])

/** A literal argument as JavaScript has it (a string, a number, a regular expression), or undefined when it is not a literal. */
function literalOf(e: ts.Expression): string | number | RegExp | undefined {
  e = skipOuter(e)
  if (ts.isStringLiteral(e) || ts.isNoSubstitutionTemplateLiteral(e)) return e.text
  if (ts.isNumericLiteral(e)) return Number(e.text)
  if (ts.isPrefixUnaryExpression(e) && e.operator === ts.SyntaxKind.MinusToken && ts.isNumericLiteral(e.operand)) return -Number(e.operand.text)
  if (ts.isRegularExpressionLiteral(e)) {
    const m = /^\/(.*)\/([a-z]*)$/s.exec(e.text)!
    return new RegExp(m[1], m[2])
  }
  return undefined
}

/** `text.method(...args)` of a string method, the arguments literals; for `slice` and the like of arguments not known, the text (no wider). */
function applyMethod(method: string, texts: string[], e: ts.CallExpression, depth: number, cx: Ctx): string[] | null {
  if (method === 'concat') return product([texts, ...e.arguments.map((a) => evalText(a, depth + 1, cx))])
  const args = e.arguments.map(literalOf)
  const known = args.every((a) => a !== undefined)
  if (!known) {
    if (['slice', 'substring', 'substr', 'charAt', 'at'].includes(method)) return texts
    return null
  }
  const call = (t: string) => (t as unknown as Record<string, (...a: unknown[]) => unknown>)[method](...args)
  return unique(texts.map((t) => String(call(t) ?? '')))
}

function evalCall(e: ts.CallExpression, depth: number, cx: Ctx): string[] {
  if (isNamer(e.expression)) {
    const [option, value] = e.arguments
    const names = option ? evalText(option, depth + 1, cx) : [VALUE]
    const flags = names.map((name) => (isValueOnly(name) ? `--${VALUE}` : flagNamer(name)))
    return value ? product([flags, [' '], evalText(value, depth + 1, cx)]) : unique(flags)
  }
  // `LIST.join(', ')` of a list made in src/**: each element's words and the separators count (`use one of a, b, c`).
  if (ts.isPropertyAccessExpression(e.expression) && e.expression.name.text === 'join') {
    const lists = evalList(e.expression.expression, depth + 1, cx)
    const sep = e.arguments[0] ? evalText(e.arguments[0], depth + 1, cx) : [',']
    // a list made at run time, of values (pids, reasons, names): a value
    return lists ? joined(lists, sep) : [VALUE]
  }
  const f = checker.getResolvedSignature(e)?.declaration
  if (f && !ts.isJSDocSignature(f) && isFunctionLike(f) && inSrc(f)) return callOf(f, e, depth, cx)
  // A function-typed property of an interface (words.at(where)): each implementation of it in src/**.
  const property = ts.isPropertyAccessExpression(e.expression) ? symbolOf(e.expression) : undefined
  const implementations = property ? implementationsOf(property) : undefined
  if (implementations) return unique(implementations.flatMap((g) => callOf(g, e, depth, cx)))
  return evalOutside(e, depth, cx)
}

/**
 * A call outside src/**: a string method on nslocate's text is that text changed so (`LONG.trim()`),
 * `String(x)` is x, `JSON.stringify(x)` is x in quotes; any call given only values makes a value;
 * any other call given nslocate's words cannot be followed (UNFOLLOWED).
 */
function evalOutside(e: ts.CallExpression, depth: number, cx: Ctx): string[] {
  const callee = skipOuter(e.expression)
  const name = callee.getText()
  if (name === 'String' && e.arguments.length === 1) return evalText(e.arguments[0], depth + 1, cx)
  if (name === 'JSON.stringify' && e.arguments.length === 1) {
    const texts = evalText(e.arguments[0], depth + 1, cx)
    return texts.every(isValueOnly) ? [VALUE] : unique(texts.map((t) => JSON.stringify(t)))
  }
  // nslocate's words given to it: text it is called on, or a phrase (words and spaces) among its arguments; a word such as 'sha256' or 'nslocate' (a path's part) is none
  const receiver = ts.isPropertyAccessExpression(callee) && isTextual(callee.expression) ? evalText(callee.expression, depth + 1, cx) : [VALUE]
  const phrases = e.arguments.map((a) => (isFunctionLike(skipOuter(a)) ? [VALUE] : evalText(a, depth + 1, cx))).flat()
  const method = ts.isPropertyAccessExpression(callee) ? callee.name.text : ''
  const isPhrase = (t: string) => !isValueOnly(t) && /\S\s+\S/.test(t.split(VALUE).join('x'))
  if (receiver.every(isValueOnly) && (STRING_METHODS.has(method) || !phrases.some(isPhrase))) return [VALUE]
  if (STRING_METHODS.has(method) && !receiver.every(isValueOnly)) {
    const applied = applyMethod(method, receiver, e, depth, cx)
    if (applied) return applied
  }
  return stray(ts.isPropertyAccessExpression(callee) ? `.${method}` : name, e, `a call outside src/** given nslocate's words, ${e.getText().slice(0, 60)}`)
}

/** The texts call `e` of `f` returns: its parameters are the call's arguments, evaluated where the call is (once each, when used). */
function callOf(f: FunctionLike, e: ts.CallExpression, depth: number, cx: Ctx): string[] {
  return returnsOf(f, depth, {seen: cx.seen, args: bindArguments(f, e, depth, cx)})
}

function bindArguments(f: FunctionLike, e: ts.CallExpression, depth: number, cx: Ctx): Map<ts.Node, Bound> {
  const args = new Map(cx.args)
  f.parameters.forEach((p, i) => {
    if (p.dotDotDotToken) return
    const arg = e.arguments[i] ?? p.initializer
    let memo: string[] | null = null
    args.set(p, {texts: () => (memo ??= arg ? evalText(arg, depth + 1, cx) : [NONE]), expr: arg, cx})
  })
  return args
}

/** A message or advice argument: `(n) => ...` (or a const function) is its returns, anything else its text. */
function evalArgument(e: ts.Expression, cx: Ctx = TOP): string[] {
  const f = functionOf(e)
  return f ? returnsOf(f, 0, cx) : evalText(e, 0, cx)
}

/** The advice variants of an options object (`{advice}`, `{advice: ...}`, `...(x ? {advice} : {})`); [NONE] without one. */
function adviceOfOptions(e: ts.Expression | undefined, cx: Ctx, depth = 0): string[] {
  if (!e || depth > 8) return [NONE]
  e = skipOuter(e)
  if (ts.isConditionalExpression(e)) return unique([...adviceOfOptions(e.whenTrue, cx, depth + 1), ...adviceOfOptions(e.whenFalse, cx, depth + 1)])
  if (ts.isIdentifier(e)) {
    const d = symbolOf(e)?.valueDeclaration
    return d && ts.isVariableDeclaration(d) && isConst(d) && d.initializer ? adviceOfOptions(d.initializer, cx, depth + 1) : [NONE]
  }
  if (!ts.isObjectLiteralExpression(e)) return [NONE]
  let out = [NONE]
  for (const p of e.properties) {
    if (ts.isPropertyAssignment(p) && p.name.getText() === 'advice') out = evalArgument(p.initializer, cx)
    else if (ts.isShorthandPropertyAssignment(p) && p.name.text === 'advice') out = evalArgument(p.name, cx)
    else if (ts.isSpreadAssignment(p)) {
      const spread = adviceOfOptions(p.expression, cx, depth + 1)
      if (!spread.every((a) => a === NONE)) out = spread
    }
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// Verdicts: what signal and wait answer, which report() prints (an error line and a hint when they fail).

const outcomesFile = sources.find((sf) => path.resolve(sf.fileName) === path.join(SRC, 'outcomes.ts'))!
/** The outcome types of a verdict (src/outcomes.ts), each a kind of verdict. */
const FAMILIES = ['SignalOutcome', 'WaitOutcome'].map((name) => {
  const alias = outcomesFile.statements.find((s): s is ts.TypeAliasDeclaration => ts.isTypeAliasDeclaration(s) && s.name.text === name)
  if (!alias) throw new Error(`src/outcomes.ts has no type ${name}`)
  return {name, type: checker.getTypeAtLocation(alias.name)}
})

/** The kind of verdict an object of type `type` is (its `outcome` a SignalOutcome or a WaitOutcome), null when it is none. */
function familyOf(type: ts.Type | undefined, at: ts.Node): string | null {
  if (!type) return null
  type = checker.getNonNullableType(type)
  // `SignalResult | PromiseLike<SignalResult>` (what an async function returns): the kind of the one that is a verdict
  if (type.isUnion()) return type.types.map((t) => familyOf(t, at)).find((f) => f !== null) ?? null
  const apparent = checker.getApparentType(type.isTypeParameter() ? (checker.getBaseConstraintOfType(type) ?? type) : type)
  const outcome = apparent.getProperty('outcome')
  if (!outcome) return null
  const t = checker.getNonNullableType(checker.getTypeOfSymbolAtLocation(outcome, at))
  if (t.flags & (ts.TypeFlags.Never | ts.TypeFlags.Any | ts.TypeFlags.Unknown)) return null
  return FAMILIES.find((f) => checker.isTypeAssignableTo(t, f.type))?.name ?? null
}

/** The kind of verdict expression `e` is, a bound parameter by the argument it is bound to (`cannot(stopped)`). */
function familyOfExpression(e: ts.Expression, cx: Ctx): string | null {
  e = skipOuter(e)
  if (ts.isIdentifier(e)) {
    const d = symbolOf(e)?.valueDeclaration
    const bound = d ? cx.args.get(d) : undefined
    if (bound?.expr) return familyOfExpression(bound.expr, bound.cx)
  }
  return familyOf(checker.getTypeAtLocation(e), e)
}

/** Each kind's verdicts, as their sites give them: filled before the sites that read a verdict's message. */
const verdicts = new Map<string, Array<{messages: string[]; advice: string[]}>>()
function verdictTexts(family: string, field: 'message' | 'advice'): string[] {
  const cases = verdicts.get(family) ?? []
  if (!cases.length) return [VALUE]
  return field === 'message' ? unique(cases.flatMap((c) => c.messages)) : unique([NONE, ...cases.flatMap((c) => c.advice)])
}

/** A message that is a verdict's message passed on whole (report's `result.message`): checked where each verdict is made. */
const isVerdictMessage = (e: ts.Expression, cx: Ctx) => {
  e = skipOuter(e)
  return ts.isPropertyAccessExpression(e) && e.name.text === 'message' && familyOfExpression(e.expression, cx) !== null
}

/** A verdict object literal: its message and advice, set by its own properties or by the objects spread into it. */
interface Given {
  message: string[] | null
  advice: string[] | null
  /** the message is this literal's own (or an object's spread into it that is no verdict of its own): checked here */
  own: boolean
}

const literalFamily = (o: ts.ObjectLiteralExpression) => familyOf(checker.getContextualType(o), o) ?? familyOf(checker.getTypeAtLocation(o), o)
const isVerdictLiteral = (o: ts.ObjectLiteralExpression) => literalFamily(o) !== null

function givenOf(o: ts.ObjectLiteralExpression, cx: Ctx, depth = 0): Given[] {
  let out: Given[] = [{message: null, advice: null, own: false}]
  if (depth > 8) return out
  for (const p of o.properties) {
    if (ts.isSpreadAssignment(p)) {
      const shapes = shapesOf(p.expression, depth + 1, cx)
      out = out
        .flatMap((g) =>
          shapes.map((s) => {
            const x = skipOuter(s.e)
            if (!ts.isObjectLiteralExpression(x)) return [g]
            const verdict = isVerdictLiteral(x)
            return givenOf(x, s.cx, depth + 1).map((q) => ({
              message: q.message ?? g.message,
              advice: q.advice ?? g.advice,
              own: q.message !== null ? q.own && !verdict : g.own,
            }))
          }),
        )
        .flat()
        .slice(0, MAX_LISTS)
    } else if ((ts.isPropertyAssignment(p) || ts.isShorthandPropertyAssignment(p)) && (p.name.getText() === 'message' || p.name.getText() === 'advice')) {
      const value = ts.isPropertyAssignment(p) ? p.initializer : p.name
      const texts = evalText(value, depth + 1, cx)
      // (a verdict's message passed on whole, as reload's event does: checked where it is made)
      out = out.map((g) => (p.name.getText() === 'message' ? {...g, message: texts, own: !isVerdictMessage(value, cx)} : {...g, advice: texts}))
    }
  }
  return out
}

// ---------------------------------------------------------------------------------------------

/** One site: its message and advice texts, for each way it is reached (each call of the function it is in). */
interface Site {
  where: string
  key: string
  cls: string
  cases: Array<{messages: string[]; advice: string[]}>
  /** every message text of every case */
  messages: string[]
  /** a warning: its text and its hint are given apart, the text does not end with the hint */
  apart?: boolean
  /** what its evaluation could not follow */
  strays: string[]
  /** some of its variants were left out (MAX_VARIANTS) */
  truncated: boolean
}

/** The function a construction is in, when it has callers in src/**: its message is evaluated once per call, the parameters bound. */
function callersOf(node: ts.Node): Ctx[] {
  for (let n = node.parent; n; n = n.parent) {
    if (!isFunctionLike(n)) continue
    const calls = (callsOf.get(n) ?? []).slice(0, 200)
    return calls.length ? calls.map((c) => ({seen: new Set<ts.Node>(), args: bindArguments(n as FunctionLike, c, 0, TOP)})) : [TOP]
  }
  return [TOP]
}

const sites: Site[] = []
const unplaced: string[] = []

/** Adds the site at `node`: `cases` evaluates it in each context, what it meets that cannot be followed is its own. */
function addSite(node: ts.Node, key: string, cls: string, evaluate: () => Array<{messages: string[]; advice: string[]}>, apart = false): Site | null {
  strays = new Set()
  truncated = false
  const cases = evaluate()
    .map((c) => ({messages: unique(c.messages.map(gluedValues)), advice: unique(c.advice.map(gluedValues))}))
    .filter((c) => c.messages.length > 0)
  if (!cases.length) return null
  const site = {where: where(node), key, cls, cases, messages: unique(cases.flatMap((c) => c.messages)), apart, strays: [...strays], truncated}
  sites.push(site)
  return site
}

function errorClassOf(node: ts.NewExpression): string | null {
  const isError = (t: ts.Type, n = 0): boolean => {
    if (n > 10) return false
    const s = t.getSymbol()
    if (s?.name === 'Error' && s.declarations?.some((d) => program.isSourceFileDefaultLibrary(d.getSourceFile()))) return true
    return t.isClassOrInterface() && (checker.getBaseTypes(t as ts.InterfaceType) ?? []).some((b) => isError(b, n + 1))
  }
  const type = checker.getTypeAtLocation(node)
  return isError(type) ? (type.getSymbol()?.name ?? '?') : null
}

/** The nodes of src/** a site is made at, by kind, in the order they are evaluated. */
const found = {
  verdictLiterals: [] as ts.ObjectLiteralExpression[],
  verdictSets: [] as ts.BinaryExpression[],
  verdictAppends: [] as ts.BinaryExpression[],
  errors: [] as ts.NewExpression[],
  printErrors: [] as ts.CallExpression[],
  warnings: [] as ts.CallExpression[],
  lines: [] as Array<ts.StringLiteral | ts.NoSubstitutionTemplateLiteral | ts.TemplateExpression>,
}
const declaredAt = (e: ts.CallExpression, file: string, name: string) => {
  const d = checker.getResolvedSignature(e)?.declaration
  return d !== undefined && !ts.isJSDocSignature(d) && path.resolve(d.getSourceFile().fileName) === path.join(SRC, file) && d.name?.getText() === name
}
for (const sf of sources) {
  const visit = (node: ts.Node): void => {
    if (ts.isNewExpression(node)) found.errors.push(node)
    else if (ts.isObjectLiteralExpression(node) && isVerdictLiteral(node)) found.verdictLiterals.push(node)
    else if (
      ts.isBinaryExpression(node) &&
      ts.isPropertyAccessExpression(node.left) &&
      node.left.name.text === 'message' &&
      familyOf(checker.getTypeAtLocation(node.left.expression), node) !== null
    ) {
      if (node.operatorToken.kind === ts.SyntaxKind.EqualsToken) found.verdictSets.push(node)
      else if (node.operatorToken.kind === ts.SyntaxKind.PlusEqualsToken) found.verdictAppends.push(node)
    } else if (ts.isCallExpression(node) && declaredAt(node, 'cli/error-lines.ts', 'printError')) found.printErrors.push(node)
    else if (ts.isCallExpression(node) && declaredAt(node, 'cli/command.ts', 'warn')) found.warnings.push(node)
    else if (
      (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) ? node.text : ts.isTemplateExpression(node) ? node.head.text : '').startsWith(
        'nslocate: ',
      ) &&
      // written as it is (`out.logToStderr(`nslocate: ...`)`), not the front end's own `nslocate: ${line}`
      ts.isCallExpression(node.parent) &&
      node.parent.arguments.includes(node as ts.Expression)
    ) {
      found.lines.push(node as ts.StringLiteral)
    }
    ts.forEachChild(node, visit)
  }
  visit(sf)
}

/** The advice `x.advice = ...` gives beside `x.message = ...`: in a statement of the same block (an `if` of it included), and none when it is not given. */
function adviceSetBeside(node: ts.BinaryExpression, cx: Ctx): string[] {
  const receiver = (node.left as ts.PropertyAccessExpression).expression.getText()
  let statement: ts.Node = node
  while (statement.parent && !ts.isBlock(statement.parent) && !ts.isSourceFile(statement.parent) && !ts.isFunctionLike(statement.parent))
    statement = statement.parent
  const siblings = statement.parent && ts.isBlock(statement.parent) ? [...statement.parent.statements] : [statement]
  const out = [NONE]
  const visit = (n: ts.Node): void => {
    if (ts.isBlock(n) || ts.isFunctionLike(n)) return
    if (
      ts.isBinaryExpression(n) &&
      n.operatorToken.kind === ts.SyntaxKind.EqualsToken &&
      ts.isPropertyAccessExpression(n.left) &&
      n.left.name.text === 'advice' &&
      n.left.expression.getText() === receiver
    ) {
      out.push(...evalText(n.right, 0, cx))
    }
    ts.forEachChild(n, visit)
  }
  for (const sibling of siblings) ts.forEachChild(sibling, visit)
  return unique(out)
}

/** The function `node` is in (null: the top of its file). */
function enclosingFunction(node: ts.Node): ts.Node | null {
  for (let n = node.parent; n; n = n.parent) if (ts.isFunctionLike(n)) return n
  return null
}

/** The functions of src/** each function calls. */
const callees = new Map<ts.Node | null, Set<ts.Node>>()
for (const [decl, calls] of callsOf) {
  for (const call of calls) {
    const from = enclosingFunction(call)
    callees.set(from, (callees.get(from) ?? new Set()).add(decl))
  }
}
/** `from` and every function of src/** they call, and so on. */
function reachableFrom(from: ts.Node[]): Set<ts.Node | null> {
  const out = new Set<ts.Node | null>()
  const todo = [...from]
  while (todo.length) {
    const f = todo.pop()!
    if (out.has(f)) continue
    out.add(f)
    todo.push(...(callees.get(f) ?? []))
  }
  return out
}
/** The functions of src/** whose answer `e` holds: a call's, through `?:`, a const, each value given to a `let`, each argument given to a parameter. */
function makersOf(e: ts.Expression, depth: number): ts.Node[] {
  e = skipOuter(e)
  if (depth > 8) return []
  if (ts.isCallExpression(e)) {
    const d = checker.getResolvedSignature(e)?.declaration
    return d && !ts.isJSDocSignature(d) && inSrc(d) ? [d] : []
  }
  if (ts.isConditionalExpression(e)) return [...makersOf(e.whenTrue, depth + 1), ...makersOf(e.whenFalse, depth + 1)]
  if (!ts.isIdentifier(e)) return []
  const d = symbolOf(e)?.valueDeclaration
  if (!d || !inSrc(d)) return []
  if (ts.isParameter(d)) {
    const i = (d.parent as FunctionLike).parameters.indexOf(d)
    return (callsOf.get(d.parent) ?? []).flatMap((c) => (c.arguments[i] ? makersOf(c.arguments[i], depth + 1) : []))
  }
  if (!ts.isVariableDeclaration(d)) return []
  const given = d.initializer ? [d.initializer] : []
  if (!isConst(d)) {
    const symbol = symbolOf(e)
    const scope = enclosingFunction(d) ?? d.getSourceFile()
    const visit = (n: ts.Node): void => {
      if (ts.isBinaryExpression(n) && n.operatorToken.kind === ts.SyntaxKind.EqualsToken && ts.isIdentifier(n.left) && symbolOf(n.left) === symbol)
        given.push(n.right)
      ts.forEachChild(n, visit)
    }
    visit(scope)
  }
  return given.flatMap((x) => makersOf(x, depth + 1))
}

/** The verdict sites made so far, each with where it is: `+=` reads the facts of those made by the functions its verdict comes from. */
const verdictSites: Array<{node: ts.Node; family: string; site: Site}> = []

// 1. The verdicts, as their message is given: an object literal, `x.message = ...`.
for (const o of found.verdictLiterals) {
  const family = literalFamily(o)!
  const site = addSite(
    o,
    `${rel(o)}: {${o.properties.map((p) => (ts.isSpreadAssignment(p) ? `...${p.expression.getText()}` : (p.name?.getText() ?? '?'))).join(', ')}}`,
    'verdict',
    () =>
      callersOf(o).flatMap((cx) =>
        givenOf(o, cx)
          .filter((g) => g.own && g.message !== null && !g.message.every((m) => m === ''))
          .map((g) => ({messages: g.message!, advice: g.advice ?? [NONE]})),
      ),
  )
  if (site) {
    verdicts.set(family, [...(verdicts.get(family) ?? []), ...site.cases])
    verdictSites.push({node: o, family, site})
  }
}
for (const node of found.verdictSets) {
  const family = familyOf(checker.getTypeAtLocation((node.left as ts.PropertyAccessExpression).expression), node)!
  const site = addSite(node, `${rel(node)}: ${node.getText().slice(0, 80)}`, 'verdict', () =>
    callersOf(node).map((cx) => ({messages: evalText(node.right, 0, cx), advice: adviceSetBeside(node, cx)})),
  )
  if (site) {
    verdicts.set(family, [...(verdicts.get(family) ?? []), ...site.cases])
    verdictSites.push({node, family, site})
  }
}
// 2. `x.message += ...`: after each fact x can have, as the functions that made it give it (its advice cut off, as the line shows it).
for (const node of found.verdictAppends) {
  const receiver = (node.left as ts.PropertyAccessExpression).expression
  const family = familyOf(checker.getTypeAtLocation(receiver), node)!
  const makers = reachableFrom(makersOf(receiver, 0))
  const made = verdictSites.filter((v) => v.family === family && (makers.size === 0 || makers.has(enclosingFunction(v.node))))
  const before = unique(made.flatMap((v) => v.site.cases.flatMap((c) => c.messages.map((m) => factFor(m, c.advice)))))
  const site = addSite(node, `${rel(node)}: ${node.getText().slice(0, 80)}`, 'verdict (appended)', () =>
    callersOf(node).map((cx) => ({messages: product([before, evalText(node.right, 0, cx)]), advice: adviceSetBeside(node, cx)})),
  )
  if (site) {
    verdicts.set(family, [...(verdicts.get(family) ?? []), ...site.cases])
    verdictSites.push({node, family, site})
  }
}

// 3. The errors: NslocateError and RunFailure constructions.
for (const node of found.errors) {
  const cls = errorClassOf(node)
  if (cls !== null && cls in PRINTED) {
    const spec = PRINTED[cls]
    const args = node.arguments ?? []
    const message = args[spec.message]
    const adviceArg = spec.advice
    addSite(node, `${rel(node)}: ${message ? message.getText() : '(no message)'}`, cls, () =>
      callersOf(node).map((cx) => ({
        messages: message ? evalArgument(message, cx) : [VALUE],
        advice: 'options' in adviceArg ? adviceOfOptions(args[adviceArg.options], cx) : args[adviceArg.arg] ? evalArgument(args[adviceArg.arg], cx) : [NONE],
      })),
    )
  } else if (cls !== null && !(cls in NOT_PRINTED)) unplaced.push(`${where(node)}: new ${cls}(...)`)
}

// 4. What else prints an error, a warning or a line of its own: printError (run's failures, report), Output.warn, `nslocate: ...`.
for (const node of found.printErrors) {
  const [, , , message, advice] = node.arguments
  addSite(node, `${rel(node)}: ${message?.getText() ?? '(no message)'}`, 'printError', () =>
    callersOf(node).map((cx) => ({
      messages: !message || isVerdictMessage(message, cx) ? [VALUE] : evalArgument(message, cx),
      advice: advice ? evalArgument(advice, cx) : [NONE],
    })),
  )
}
for (const node of found.warnings) {
  const [text, hint] = node.arguments
  addSite(
    node,
    `${rel(node)}: ${text?.getText() ?? '(no text)'}`,
    'warning',
    () =>
      callersOf(node).map((cx) => ({
        messages: product([['warning: '], text ? evalText(text, 0, cx) : [VALUE]]),
        advice: hint ? evalText(hint, 0, cx) : [NONE],
      })),
    true,
  )
}
for (const node of found.lines) {
  const texts = (cx: Ctx) => evalText(node, 0, cx).map((t) => t.slice('nslocate: '.length))
  addSite(node, `${rel(node)}: ${node.getText().slice(0, 80)}`, 'stderr line', () => callersOf(node).map((cx) => ({messages: texts(cx), advice: [NONE]})))
}

/**
 * A word made of a value and text with a path's or an address's punctuation is one value as long as
 * it is: `unix://{}`, `{}/podman/podman.sock`, `127.0.0.1:{}`, `{}:{}`.
 */
function gluedValues(text: string): string {
  // (a value cut short ends with "...": the dots are the value's)
  return text
    .split(`${VALUE}...`)
    .join(VALUE)
    .split(/(\s+)/)
    .map((w) => {
      // the sentence's own punctuation around the word stays text: `({}):`, `{};`
      const [, open, core, close] = /^([("'`]*)(.*?)([)"'`,;:.!?]*)$/s.exec(w)!
      return core.includes(VALUE) && /[/:]/.test(core.split(VALUE).join('')) ? `${open}${VALUE}${close}` : w
    })
    .join('')
}

/** The fact the command line prints for message `m` (errorLines): without the advice it ends with, for the advice that cuts most. */
function factFor(m: string, advice: string[]): string {
  let best = m
  for (const a of advice) {
    if (a === NONE || isValueOnly(a)) continue
    const fact = factOf(m, a)
    if (widthOf(fact) < widthOf(best)) best = fact
  }
  return best
}

const LINE = 'nslocate: '
const HINT = 'hint: '

/** What is wrong with one site ([] when nothing): its widest line, its widest hint, each other fault once. */
function faultsOf(site: Site): string[] {
  const faults: string[] = [...site.strays]
  if (site.messages.every(isValueOnly)) return faults
  const wide: string[] = []
  const hints: string[] = []
  for (const {messages, advice} of site.cases) {
    const advised = advice.filter((a) => a !== NONE && !isValueOnly(a))
    const facts = messages.map((m) => (site.apart ? m : factFor(m, advice)))
    wide.push(...facts.filter((f) => widthOf(LINE + f) > ERROR_WIDTH))
    for (const [i, m] of messages.entries()) {
      if (/[\n\r]/.test(m)) faults.push(`a line break in: ${shown(m)}`)
      // The message ends with its advice (src/errors.ts), so that the line can be cut before it: each message, when advice is always given.
      if (!site.apart && advised.length && !advice.includes(NONE) && facts[i] === m)
        faults.push(`does not end with its advice (${advised.map(shown).join(' | ')}): ${shown(m)}`)
    }
    // ... and each advice, when it is given (sometimes or always), is what some message ends with (some advice, when variants were left out).
    if (!site.apart) {
      const some = (a: string) => messages.some((m) => factOf(m, a) !== m)
      for (const a of site.truncated ? (advised.some(some) ? [] : advised.slice(0, 1)) : advised.filter((x) => !some(x))) {
        faults.push(`no message ends with its advice (${shown(a)}): ${messages.slice(0, 3).map(shown).join(' | ')}${messages.length > 3 ? ' | ...' : ''}`)
      }
    }
    hints.push(...advised.filter((a) => widthOf(HINT + a) > ERROR_WIDTH))
    for (const a of advised) if (/[\n\r]/.test(a)) faults.push(`a line break in the advice: ${shown(a)}`)
  }
  const widest = (texts: string[]) => [...new Set(texts)].sort((a, b) => widthOf(b) - widthOf(a))
  const w = widest(wide)
  if (w.length) faults.unshift(`${widthOf(LINE + w[0])} columns${w.length > 1 ? ` (and ${w.length - 1} more variants)` : ''}: ${LINE}${shown(w[0])}`)
  const h = widest(hints)
  if (h.length) faults.push(`hint of ${widthOf(HINT + h[0])} columns${h.length > 1 ? ` (and ${h.length - 1} more variants)` : ''}: ${HINT}${shown(h[0])}`)
  return [...new Set(faults)]
}

describe('every error nslocate can raise is one line of at most 100 columns (but for the values it quotes), then at most one hint line', () => {
  test('the compiler sees the sources', () => {
    expect(sources.length).toBeGreaterThan(50)
    // The 198 NslocateError and RunFailure sites of December 2026, and more since: not a file list gone missing.
    expect(sites.filter((s) => s.cls in PRINTED).length).toBeGreaterThanOrEqual(198)
    // signal's and wait's verdicts (refusal.ts, compose.ts, landing.ts, wait.ts, runtime/down.ts), run's printError, the warnings
    expect(sites.filter((s) => s.cls.startsWith('verdict')).length).toBeGreaterThanOrEqual(20)
    expect(sites.filter((s) => s.cls === 'printError').length).toBeGreaterThanOrEqual(3)
    expect(sites.filter((s) => s.cls === 'warning').length).toBeGreaterThanOrEqual(2)
  })

  test('every Error class constructed in src/** is either printed (and checked here) or listed with why it is not', () => {
    expect(unplaced).toEqual([])
  })

  test('every site whose message is only a value passed through is listed, with the reason', () => {
    const unevaluable = sites.filter((s) => s.messages.every(isValueOnly)).map((s) => s.key)
    expect([...new Set(unevaluable)].sort()).toEqual(Object.keys(UNEVALUABLE).sort())
  })

  test('each printed error: `nslocate: FACT` of at most 100 columns, the fact before its advice, a hint of at most 100', () => {
    const faults = sites.flatMap((s) => faultsOf(s).map((f) => `${s.where} (${s.cls}): ${f}`))
    expect(faults).toEqual([])
  })

  test('what the evaluator lets pass unfollowed (UNFOLLOWED) is still there: no entry outlives its reason', () => {
    expect(Object.keys(UNFOLLOWED).filter((k) => !unfollowedMet.has(k))).toEqual([])
  })
})

describe('the evaluator itself', () => {
  // What the rule rests on, checked against sites whose texts are known.
  const site = (file: string, text: string) => sites.find((s) => s.where.startsWith(file) && s.key.includes(text))
  test('a template counts its text, a value none, and the namer renders the flag', () => {
    const s = site('src/locate/name.ts', 'invalid service name')!
    expect(s.messages.map(shown)).toEqual([
      'invalid service name {}: 1-128 of A-Z a-z 0-9 _ . @ : -, first a letter or digit; use --pidfile PATH to name a file',
    ])
    expect([...new Set(s.cases.flatMap((c) => c.advice))]).toEqual(['use --pidfile PATH to name a file'])
    expect(shown(factFor(s.messages[0], s.cases[0].advice))).toBe('invalid service name {}: 1-128 of A-Z a-z 0-9 _ . @ : -, first a letter or digit')
  })
  test("a function's parameters are each call's arguments: its words are counted, paired with that call's advice", () => {
    const s = site('src/signal/parse.ts', "`invalid ${n('retry')} schedule ${JSON.stringify(s)}: item")!
    expect(s.messages.map(shown)).toEqual(expect.arrayContaining(['invalid --retry schedule {}: item {} ({}) must be a timeout in seconds']))
    const first = s.cases.find((c) => c.advice.includes('start the schedule with one, e.g. TERM/30/KILL/5'))!
    expect([first.messages.map(shown), first.messages.map((m) => shown(factFor(m, first.advice)))]).toEqual([
      ['invalid --retry schedule {}: item {} ({}) must be a signal; start the schedule with one, e.g. TERM/30/KILL/5'],
      ['invalid --retry schedule {}: item {} ({}) must be a signal'],
    ])
  })
  test("an interface's function-typed property is each implementation; a getter is what it returns", () => {
    const list = site('src/runtime/docker.ts', 'answered the container list')!
    expect(list.messages.map(shown)).toEqual(expect.arrayContaining(['the Docker engine at {} answered the container list with no list of containers: {}']))
    const pod = site('src/runtime/containerd-state.ts', 'has no container task named')!
    expect(pod.messages.map(shown)).toEqual(["pod {} has no container task named {} in containerd's {} (namespace {}) (its containers: {})"])
  })
  test('a name destructured from a call is that element of what the call returns', () => {
    const s = site('src/runtime/docker-error.ts', 'message')!
    const deadline = s.messages.find((m) => m.includes('did not answer within'))!
    expect(shown(deadline)).toMatch(
      /^the Docker engine at \{\} did not answer within \{\}.* while trying to .*: it is hung or overloaded; NSLOCATE_DOCKER_TIMEOUT/,
    )
    const advice = s.cases.find((c) => c.messages.includes(deadline))!.advice
    expect(shown(factFor(deadline, advice))).toMatch(/^the Docker engine at \{\} did not answer within \{\}.* while trying to [^:;]*$/)
  })
  test('a path, a socket address or a host:port glued to a value is the value', () => {
    expect(shown(gluedValues(`cannot reach unix://${VALUE} (${VALUE}); ${VALUE}/x.sock, 127.0.0.1:${VALUE}: ${VALUE}...`))).toBe(
      'cannot reach {} ({}); {}, {}: {}',
    )
  })
  test("the .join() of a list made in src/** counts each element: an option table's lists of words, through the table's member", () => {
    const s = site('src/api/check-options.ts', 'must be ${want}')!
    expect(s.messages.map(shown)).toEqual(
      expect.arrayContaining([
        'signal(): option {} must be one of main, group, cgroup, tree, not {}',
        'locate(): option {} must be one of auto, docker, podman, cri, not {}',
      ]),
    )
  })
  test("signal's and wait's verdicts are sites: each call of a builder, a message spread in, `+=` after each fact before it", () => {
    const refusal = sites.filter((s) => s.where.startsWith('src/signal/refusal.ts') && s.cls === 'verdict').flatMap((s) => s.cases)
    expect(refusal.flatMap((c) => c.advice).map(shown)).toEqual(expect.arrayContaining(['Wait for its pid: nslocate wait {} --for running']))
    const answer = site('src/signal/wait.ts', '...said')!
    expect(answer.cases.find((c) => c.advice.map(shown).includes('See the evidence with: nslocate find {}'))?.messages.map(shown)).toEqual([
      '{}: cannot tell whether it runs ({}). See the evidence with: nslocate find {}',
    ])
    // wait's exit text is part of the answers that saw the exit (ended(w)), not appended after any verdict
    const waits = sites.filter((s) => s.where.startsWith('src/signal/wait.ts')).flatMap((s) => s.messages.map(shown))
    expect(waits).toEqual(expect.arrayContaining(['{} is not running: pid {} has exited (exit code {})']))
    expect(sites.filter((s) => s.cls === 'verdict (appended)').map((s) => s.where)).toEqual([])
    // run --replace's failure: each verdict of signal and of wait as they print it, each one's advice, or run's own
    const cannot = sites.find((s) => s.where.startsWith('src/cli/commands/run.ts') && s.cls === 'RunFailure' && s.key.includes('verdict.message'))!
    expect(cannot.messages.map(shown).some((m) => m.startsWith('{}: not permitted to signal {}'))).toBe(true)
    expect(cannot.cases.flatMap((c) => c.advice).map(shown)).toEqual(
      expect.arrayContaining(['See the evidence with: nslocate find {}', 'run as that user or as root']),
    )
  })
})
