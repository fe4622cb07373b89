// Label selectors as apimachinery's pkg/labels parses and matches them (1.32), and
// metav1.LabelSelector objects as metav1.LabelSelectorAsSelector converts them.
// Parse errors carry upstream's text: the apiserver answers a bad ?labelSelector= with
// 400 BadRequest and exactly that message (e.g. `unable to parse requirement: found
// 'b', expected: in, notin, =, ==, !=, gt, lt`).

import { badRequest } from './errors.ts';
import { goQuote, goStringSlice, isQualifiedName, isValidLabelValue } from './validation.ts';

/** selection.Operator values, spelled as upstream spells them. */
export type SelectionOperator = '!' | '=' | '==' | 'in' | '!=' | 'notin' | 'exists' | 'gt' | 'lt';

export interface LabelRequirement {
  readonly key: string;
  readonly operator: SelectionOperator;
  /** Sorted and de-duplicated when parsed from a string; as given when built from an object. */
  readonly values: readonly string[];
}

export interface LabelSelector {
  matches(labels: Record<string, string> | undefined): boolean;
  /** True when the selector restricts nothing ("" or an empty metav1.LabelSelector). */
  readonly empty: boolean;
  /** True only for the selector of a nil metav1.LabelSelector, which matches no object. */
  readonly nothing: boolean;
  /** AND of these, sorted by key. Empty for both "everything" and "nothing". */
  readonly requirements: readonly LabelRequirement[];
  /** The value `key` must have (`=`, `==`, or a one-value `in`), or undefined. */
  requiresExactMatch(key: string): string | undefined;
  /** Upstream's canonical String(): `a=b,c in (d,e),!f`. */
  toString(): string;
}

// Binary operators in the order upstream lists them in "expected: ..." messages.
const BINARY_OPERATORS: readonly SelectionOperator[] = ['in', 'notin', '=', '==', '!=', 'gt', 'lt'];
const VALID_OPERATORS: readonly SelectionOperator[] = [...BINARY_OPERATORS, 'exists', '!'];

function hasLabel(labels: Record<string, string>, key: string): boolean {
  return Object.hasOwn(labels, key);
}

function parseInt64(s: string): bigint | undefined {
  if (!/^[+-]?[0-9]+$/.test(s)) return undefined;
  const v = BigInt(s);
  return v >= -(2n ** 63n) && v < 2n ** 63n ? v : undefined;
}

function requirementMatches(r: LabelRequirement, labels: Record<string, string>): boolean {
  switch (r.operator) {
    case 'in':
    case '=':
    case '==':
      return hasLabel(labels, r.key) && r.values.includes(labels[r.key]);
    case 'notin':
    case '!=':
      return !hasLabel(labels, r.key) || !r.values.includes(labels[r.key]);
    case 'exists':
      return hasLabel(labels, r.key);
    case '!':
      return !hasLabel(labels, r.key);
    case 'gt':
    case 'lt': {
      if (!hasLabel(labels, r.key) || r.values.length !== 1) return false;
      const have = parseInt64(labels[r.key]);
      const want = parseInt64(r.values[0]);
      if (have === undefined || want === undefined) return false;
      return r.operator === 'gt' ? have > want : have < want;
    }
  }
}

function requirementString(r: LabelRequirement): string {
  let s = r.operator === '!' ? '!' + r.key : r.key;
  switch (r.operator) {
    case 'exists':
    case '!':
      return s;
    case '=':
    case '==':
    case '!=':
      s += r.operator;
      break;
    case 'in':
    case 'notin':
      s += ` ${r.operator} (`;
      break;
    case 'gt':
      s += '>';
      break;
    case 'lt':
      s += '<';
      break;
  }
  s += r.values.length === 1 ? r.values[0] : [...r.values].sort().join(',');
  if (r.operator === 'in' || r.operator === 'notin') s += ')';
  return s;
}

class RequirementsSelector implements LabelSelector {
  readonly requirements: readonly LabelRequirement[];
  readonly nothing = false;
  constructor(reqs: readonly LabelRequirement[]) {
    // Stable sort by key, as upstream's ByKey sort behaves for selector-sized inputs.
    this.requirements = Object.freeze([...reqs].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)));
  }
  get empty(): boolean {
    return this.requirements.length === 0;
  }
  matches(labels: Record<string, string> | undefined): boolean {
    const ls = labels ?? {};
    return this.requirements.every((r) => requirementMatches(r, ls));
  }
  requiresExactMatch(key: string): string | undefined {
    const r = this.requirements.find((x) => x.key === key);
    if (!r) return undefined;
    if ((r.operator === '=' || r.operator === '==' || r.operator === 'in') && r.values.length === 1) return r.values[0];
    return undefined;
  }
  toString(): string {
    return this.requirements.map(requirementString).join(',');
  }
}

const NOTHING: LabelSelector = Object.freeze({
  empty: false,
  nothing: true,
  requirements: Object.freeze([]) as readonly LabelRequirement[],
  matches: () => false,
  requiresExactMatch: () => undefined,
  toString: () => '',
});

const EVERYTHING: LabelSelector = new RequirementsSelector([]);

/** Matches every object. */
export function everything(): LabelSelector {
  return EVERYTHING;
}

/** Matches no object (a nil metav1.LabelSelector). */
export function nothing(): LabelSelector {
  return NOTHING;
}

/** `key=value` for every entry; a missing or empty set matches everything. */
export function selectorFromSet(set: Record<string, string> | undefined): LabelSelector {
  return new RequirementsSelector(Object.entries(set ?? {}).map(([key, v]) => ({ key, operator: '=', values: [v] })));
}

// --- NewRequirement: validation with upstream's field paths ---

/** One field.Error rendered as upstream's Error(): `<path>: Invalid value: <v>: <detail>`. */
function fieldInvalid(path: string, goValue: string, detail: string): string {
  return `${path}: Invalid value: ${goValue}: ${detail}`;
}

/**
 * upstream's NewRequirement checks; returns the aggregated error text or undefined.
 * Aggregates print one error bare and several as `[e1, e2]`, dropping duplicates.
 */
function requirementError(key: string, op: SelectionOperator, vals: readonly string[]): string | undefined {
  const errs: string[] = [];
  const keyErrs = isQualifiedName(key);
  if (keyErrs.length) errs.push(fieldInvalid('key', goQuote(key), keyErrs.join('; ')));
  switch (op) {
    case 'in':
    case 'notin':
      if (vals.length === 0) {
        errs.push(fieldInvalid('values', goStringSlice(vals), "for 'in', 'notin' operators, values set can't be empty"));
      }
      break;
    case '=':
    case '==':
    case '!=':
      if (vals.length !== 1) {
        errs.push(fieldInvalid('values', goStringSlice(vals), 'exact-match compatibility requires one single value'));
      }
      break;
    case 'exists':
    case '!':
      if (vals.length !== 0) {
        errs.push(fieldInvalid('values', goStringSlice(vals), 'values set must be empty for exists and does not exist'));
      }
      break;
    case 'gt':
    case 'lt':
      if (vals.length !== 1) {
        errs.push(fieldInvalid('values', goStringSlice(vals), "for 'Gt', 'Lt' operators, exactly one value is required"));
      }
      vals.forEach((v, i) => {
        if (parseInt64(v) === undefined) {
          errs.push(fieldInvalid(`values[${i}]`, goQuote(v), "for 'Gt', 'Lt' operators, the value must be an integer"));
        }
      });
      break;
    default:
      errs.push(
        `operator: Unsupported value: ${goQuote(op)}: supported values: ${VALID_OPERATORS.map((o) => goQuote(o)).join(', ')}`,
      );
  }
  vals.forEach((v, i) => {
    const valErrs = isValidLabelValue(v);
    if (valErrs.length) errs.push(fieldInvalid(`values[${i}][${key}]`, goQuote(v), valErrs.join('; ')));
  });
  const unique = [...new Set(errs)];
  if (unique.length === 0) return undefined;
  return unique.length === 1 ? unique[0] : `[${unique.join(', ')}]`;
}

// --- lexer ---

const T = {
  Error: 0,
  EndOfString: 1,
  ClosedPar: 2,
  Comma: 3,
  DoesNotExist: 4,
  DoubleEquals: 5,
  Equals: 6,
  GreaterThan: 7,
  Identifier: 8,
  In: 9,
  LessThan: 10,
  NotEquals: 11,
  NotIn: 12,
  OpenPar: 13,
} as const;
type Token = (typeof T)[keyof typeof T];

const STRING_TO_TOKEN: Record<string, Token> = {
  ')': T.ClosedPar,
  ',': T.Comma,
  '!': T.DoesNotExist,
  '==': T.DoubleEquals,
  '=': T.Equals,
  '>': T.GreaterThan,
  in: T.In,
  '<': T.LessThan,
  '!=': T.NotEquals,
  notin: T.NotIn,
  '(': T.OpenPar,
};

const isWhitespace = (ch: string) => ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n';
const isSpecialSymbol = (ch: string) =>
  ch === '=' || ch === '!' || ch === '(' || ch === ')' || ch === ',' || ch === '>' || ch === '<';

interface Item {
  tok: Token;
  lit: string;
}

/** Tokenizes like upstream's Lexer. A NUL character ends the input, as it does there. */
function scan(s: string): Item[] {
  let pos = 0;
  const read = (): string => (pos < s.length ? s[pos++] : '\0');
  const unread = () => void pos--;
  const items: Item[] = [];
  for (;;) {
    let ch = read();
    while (isWhitespace(ch)) ch = read();
    let item: Item;
    if (ch === '\0') {
      item = { tok: T.EndOfString, lit: '' };
    } else if (isSpecialSymbol(ch)) {
      unread();
      // Longest run of special characters that still spells a token.
      let buf = '';
      let last: Item | undefined;
      for (;;) {
        const c = read();
        if (c === '\0') break;
        if (!isSpecialSymbol(c)) {
          unread();
          break;
        }
        buf += c;
        const tok = STRING_TO_TOKEN[buf];
        if (tok !== undefined) last = { tok, lit: buf };
        else if (last) {
          unread();
          break;
        }
      }
      item = last ?? { tok: T.Error, lit: `error expected: keyword found '${buf}'` };
    } else {
      unread();
      let buf = '';
      for (;;) {
        const c = read();
        if (c === '\0') break;
        if (isSpecialSymbol(c) || isWhitespace(c)) {
          unread();
          break;
        }
        buf += c;
      }
      const kw = Object.hasOwn(STRING_TO_TOKEN, buf) ? STRING_TO_TOKEN[buf] : undefined;
      item = { tok: kw ?? T.Identifier, lit: buf };
    }
    items.push(item);
    if (item.tok === T.EndOfString) return items;
  }
}

// --- parser ---

class ParseError extends Error {}

const KEY_AND_OPERATOR = 0;
const VALUES = 1;
type Context = typeof KEY_AND_OPERATOR | typeof VALUES;

class Parser {
  private readonly items: Item[];
  private position = 0;
  constructor(input: string) {
    this.items = scan(input);
  }

  private at(i: number, ctx: Context): Item {
    const it = this.items[Math.min(i, this.items.length - 1)];
    // In value position the keywords `in` and `notin` are plain identifiers.
    if (ctx === VALUES && (it.tok === T.In || it.tok === T.NotIn)) return { tok: T.Identifier, lit: it.lit };
    return it;
  }
  private lookahead(ctx: Context): Item {
    return this.at(this.position, ctx);
  }
  private consume(ctx: Context): Item {
    return this.at(this.position++, ctx);
  }

  parse(): LabelRequirement[] {
    const reqs: LabelRequirement[] = [];
    for (;;) {
      const { tok, lit } = this.lookahead(VALUES);
      if (tok === T.Identifier || tok === T.DoesNotExist) {
        reqs.push(this.requirement());
        const next = this.consume(VALUES);
        if (next.tok === T.EndOfString) return reqs;
        if (next.tok !== T.Comma) throw new ParseError(`found '${next.lit}', expected: ',' or 'end of string'`);
        const after = this.lookahead(VALUES);
        if (after.tok !== T.Identifier && after.tok !== T.DoesNotExist) {
          throw new ParseError(`found '${after.lit}', expected: identifier after ','`);
        }
      } else if (tok === T.EndOfString) {
        return reqs;
      } else {
        throw new ParseError(`found '${lit}', expected: !, identifier, or 'end of string'`);
      }
    }
  }

  private requirement(): LabelRequirement {
    try {
      const { key, op: inferred } = this.keyAndInferOperator();
      if (inferred === 'exists' || inferred === '!') return newRequirement(key, inferred, []);
      const op = this.operator();
      const values = op === 'in' || op === 'notin' ? this.values() : this.exactValue();
      return newRequirement(key, op, [...new Set(values)].sort());
    } catch (e) {
      if (e instanceof ParseError) throw new ParseError(`unable to parse requirement: ${e.message}`);
      throw e;
    }
  }

  private keyAndInferOperator(): { key: string; op: SelectionOperator | undefined } {
    let op: SelectionOperator | undefined;
    let { tok, lit } = this.consume(VALUES);
    if (tok === T.DoesNotExist) {
      op = '!';
      ({ tok, lit } = this.consume(VALUES));
    }
    if (tok !== T.Identifier) throw new ParseError(`found '${lit}', expected: identifier`);
    const keyErrs = isQualifiedName(lit);
    // Upstream validates the key here with a nil field path, hence "<nil>".
    if (keyErrs.length) throw new ParseError(fieldInvalid('<nil>', goQuote(lit), keyErrs.join('; ')));
    const next = this.lookahead(VALUES).tok;
    if ((next === T.EndOfString || next === T.Comma) && op !== '!') op = 'exists';
    return { key: lit, op };
  }

  private operator(): SelectionOperator {
    const { tok, lit } = this.consume(KEY_AND_OPERATOR);
    switch (tok) {
      case T.In: return 'in';
      case T.Equals: return '=';
      case T.DoubleEquals: return '==';
      case T.GreaterThan: return 'gt';
      case T.LessThan: return 'lt';
      case T.NotIn: return 'notin';
      case T.NotEquals: return '!=';
      default: throw new ParseError(`found '${lit}', expected: ${BINARY_OPERATORS.join(', ')}`);
    }
  }

  private values(): string[] {
    const open = this.consume(VALUES);
    if (open.tok !== T.OpenPar) throw new ParseError(`found '${open.lit}' expected: '('`);
    const { tok, lit } = this.lookahead(VALUES);
    if (tok === T.Identifier || tok === T.Comma) {
      const s = this.identifiersList();
      if (this.consume(VALUES).tok !== T.ClosedPar) throw new ParseError(`found '${lit}', expected: ')'`);
      return s;
    }
    if (tok === T.ClosedPar) {
      this.consume(VALUES);
      return [''];
    }
    throw new ParseError(`found '${lit}', expected: ',', ')' or identifier`);
  }

  /** A possibly empty list of possibly empty identifiers: `(a,,b)`, `(,a)`, `(a,)`. */
  private identifiersList(): string[] {
    const s: string[] = [];
    for (;;) {
      const { tok, lit } = this.consume(VALUES);
      if (tok === T.Identifier) {
        s.push(lit);
        const next = this.lookahead(VALUES);
        if (next.tok === T.Comma) continue;
        if (next.tok === T.ClosedPar) return s;
        throw new ParseError(`found '${next.lit}', expected: ',' or ')'`);
      } else if (tok === T.Comma) {
        if (s.length === 0) s.push('');
        const next = this.lookahead(VALUES).tok;
        if (next === T.ClosedPar) {
          s.push('');
          return s;
        }
        if (next === T.Comma) {
          this.consume(VALUES);
          s.push('');
        }
      } else {
        throw new ParseError(`found '${lit}', expected: ',', or identifier`);
      }
    }
  }

  private exactValue(): string[] {
    const next = this.lookahead(VALUES).tok;
    if (next === T.EndOfString || next === T.Comma) return [''];
    const { tok, lit } = this.consume(VALUES);
    if (tok === T.Identifier) return [lit];
    throw new ParseError(`found '${lit}', expected: identifier`);
  }
}

function newRequirement(key: string, operator: SelectionOperator, values: string[]): LabelRequirement {
  const err = requirementError(key, operator, values);
  if (err !== undefined) throw new ParseError(err);
  return Object.freeze({ key, operator, values: Object.freeze(values) });
}

/**
 * Parses a label selector string (the `labelSelector` query parameter):
 * `a=b`, `a==b`, `a!=b`, `a in (b,c)`, `a notin (b,c)`, `a`, `!a`, `a>1`, `a<1`,
 * comma-separated and ANDed. "" selects everything.
 * Throws a 400 BadRequest StatusError with upstream's message on malformed input.
 */
export function parseLabelSelector(s: string): LabelSelector {
  try {
    return new RequirementsSelector(new Parser(s).parse());
  } catch (e) {
    if (e instanceof ParseError) throw badRequest(e.message);
    throw e;
  }
}

const API_OPERATORS: Record<string, SelectionOperator> = {
  In: 'in',
  NotIn: 'notin',
  Exists: 'exists',
  DoesNotExist: '!',
};

/**
 * metav1.LabelSelectorAsSelector: a nil/undefined selector matches NOTHING, while `{}`
 * (no matchLabels, no matchExpressions) matches EVERYTHING. That asymmetry is
 * upstream's: a workload without spec.selector owns no pods, and a PDB or NetworkPolicy
 * with `selector: {}` covers every pod in its namespace.
 * Throws a 400 BadRequest StatusError with upstream's message for invalid selectors;
 * validate object fields with validation.ts's validateLabelSelector to get field errors.
 */
export function labelSelectorFromAPI(
  sel: { matchLabels?: Record<string, string> | null; matchExpressions?: { key: string; operator: string; values?: string[] | null }[] | null } | null | undefined,
): LabelSelector {
  if (sel === null || sel === undefined) return NOTHING;
  const matchLabels = sel.matchLabels ?? {};
  const matchExpressions = sel.matchExpressions ?? [];
  if (Object.keys(matchLabels).length + matchExpressions.length === 0) return EVERYTHING;
  try {
    const reqs: LabelRequirement[] = [];
    for (const key of Object.keys(matchLabels).sort()) reqs.push(newRequirement(key, '=', [String(matchLabels[key])]));
    for (const expr of matchExpressions) {
      const op = Object.hasOwn(API_OPERATORS, expr.operator) ? API_OPERATORS[expr.operator] : undefined;
      if (!op) throw new ParseError(`${goQuote(String(expr.operator))} is not a valid label selector operator`);
      reqs.push(newRequirement(String(expr.key ?? ''), op, [...(expr.values ?? [])].map(String)));
    }
    return new RequirementsSelector(reqs);
  } catch (e) {
    if (e instanceof ParseError) throw badRequest(e.message);
    throw e;
  }
}
