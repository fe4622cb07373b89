// What Go's encoding/json and fmt say about JSON values. kube-apiserver passes these
// texts through to the client (`Error from server (BadRequest): invalid character 'x'
// looking for beginning of value`), so they are part of the API.

import type { JSONValue } from './values.ts';

export class GoSyntaxError extends Error {}

/**
 * JSON.parse, failing with the message Go's scanner gives for the same input.
 * Both accept exactly RFC 8259 JSON; the Go scanner runs only to word a failure.
 */
export function parseGoJSON(text: string): JSONValue {
  try {
    return JSON.parse(text) as JSONValue;
  } catch {
    throw new GoSyntaxError(goSyntaxError(text) ?? 'unexpected end of JSON input');
  }
}

const MAX_DEPTH = 10000;

// Parse states of Go's scanner (encoding/json/scanner.go).
const OBJECT_KEY = 0;
const OBJECT_VALUE = 1;
const ARRAY_VALUE = 2;

const isSpace = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
const isHex = (c: number): boolean => isDigit(c) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);

/**
 * Go's checkValid: undefined for valid JSON, else the SyntaxError text, e.g.
 * `invalid character '}' looking for beginning of object key string` or
 * `unexpected end of JSON input`. Works on UTF-8 bytes, as Go does.
 */
export function goSyntaxError(text: string): string | undefined {
  const bytes = Buffer.from(text, 'utf8');
  const stack: number[] = [];
  let err: string | undefined;
  let endTop = false;
  type State = (c: number) => void;

  const fail = (c: number, context: string): void => {
    err ??= `invalid character ${quoteChar(c)} ${context}`;
  };
  const push = (c: number, ps: number, next: State): void => {
    stack.push(ps);
    if (stack.length > MAX_DEPTH) fail(c, 'exceeded max depth');
    else step = next;
  };
  const pop = (): void => {
    stack.pop();
    if (stack.length === 0) {
      step = endTopState;
      endTop = true;
    } else step = endValue;
  };

  const beginValueOrEmpty: State = (c) => {
    if (isSpace(c)) return;
    if (c === 0x5d) return endValue(c);
    beginValue(c);
  };
  const beginValue: State = (c) => {
    if (isSpace(c)) return;
    switch (c) {
      case 0x7b: return push(c, OBJECT_KEY, beginStringOrEmpty);
      case 0x5b: return push(c, ARRAY_VALUE, beginValueOrEmpty);
      case 0x22: step = inString; return;
      case 0x2d: step = neg; return;
      case 0x30: step = zero; return;
      case 0x74: step = literal('true', 1); return;
      case 0x66: step = literal('false', 1); return;
      case 0x6e: step = literal('null', 1); return;
    }
    if (c >= 0x31 && c <= 0x39) {
      step = one;
      return;
    }
    fail(c, 'looking for beginning of value');
  };
  const beginStringOrEmpty: State = (c) => {
    if (isSpace(c)) return;
    if (c === 0x7d) {
      stack[stack.length - 1] = OBJECT_VALUE;
      return endValue(c);
    }
    beginString(c);
  };
  const beginString: State = (c) => {
    if (isSpace(c)) return;
    if (c === 0x22) {
      step = inString;
      return;
    }
    fail(c, 'looking for beginning of object key string');
  };
  const endValue: State = (c) => {
    const n = stack.length;
    if (n === 0) {
      step = endTopState;
      endTop = true;
      return endTopState(c);
    }
    if (isSpace(c)) {
      step = endValue;
      return;
    }
    switch (stack[n - 1]) {
      case OBJECT_KEY:
        if (c === 0x3a) {
          stack[n - 1] = OBJECT_VALUE;
          step = beginValue;
          return;
        }
        return fail(c, 'after object key');
      case OBJECT_VALUE:
        if (c === 0x2c) {
          stack[n - 1] = OBJECT_KEY;
          step = beginString;
          return;
        }
        if (c === 0x7d) return pop();
        return fail(c, 'after object key:value pair');
      default:
        if (c === 0x2c) {
          step = beginValue;
          return;
        }
        if (c === 0x5d) return pop();
        return fail(c, 'after array element');
    }
  };
  const endTopState: State = (c) => {
    if (!isSpace(c)) fail(c, 'after top-level value');
  };
  const inString: State = (c) => {
    if (c === 0x22) {
      step = endValue;
      return;
    }
    if (c === 0x5c) {
      step = inStringEsc;
      return;
    }
    if (c < 0x20) fail(c, 'in string literal');
  };
  const inStringEsc: State = (c) => {
    switch (c) {
      case 0x62: case 0x66: case 0x6e: case 0x72: case 0x74: case 0x5c: case 0x2f: case 0x22:
        step = inString;
        return;
      case 0x75:
        step = hex(4);
        return;
    }
    fail(c, 'in string escape code');
  };
  const hex = (left: number): State => (c) => {
    if (!isHex(c)) return fail(c, 'in \\u hexadecimal character escape');
    step = left === 1 ? inString : hex(left - 1);
  };
  const neg: State = (c) => {
    if (c === 0x30) {
      step = zero;
      return;
    }
    if (c >= 0x31 && c <= 0x39) {
      step = one;
      return;
    }
    fail(c, 'in numeric literal');
  };
  const one: State = (c) => {
    if (isDigit(c)) return;
    zero(c);
  };
  const zero: State = (c) => {
    if (c === 0x2e) {
      step = dot;
      return;
    }
    if (c === 0x65 || c === 0x45) {
      step = exp;
      return;
    }
    endValue(c);
  };
  const dot: State = (c) => {
    if (isDigit(c)) {
      step = dot0;
      return;
    }
    fail(c, 'after decimal point in numeric literal');
  };
  const dot0: State = (c) => {
    if (isDigit(c)) return;
    if (c === 0x65 || c === 0x45) {
      step = exp;
      return;
    }
    endValue(c);
  };
  const exp: State = (c) => {
    if (c === 0x2b || c === 0x2d) {
      step = expSign;
      return;
    }
    expSign(c);
  };
  const expSign: State = (c) => {
    if (isDigit(c)) {
      step = exp0;
      return;
    }
    fail(c, 'in exponent of numeric literal');
  };
  const exp0: State = (c) => {
    if (isDigit(c)) return;
    endValue(c);
  };
  const literal = (word: string, i: number): State => (c) => {
    if (c !== word.charCodeAt(i)) return fail(c, `in literal ${word} (expecting '${word[i]}')`);
    step = i + 1 === word.length ? endValue : literal(word, i + 1);
  };

  let step: State = beginValue;
  for (const c of bytes) {
    step(c);
    if (err !== undefined) return err;
  }
  if (endTop) return undefined;
  step(0x20);
  if (err !== undefined) return err;
  if (endTop) return undefined;
  return 'unexpected end of JSON input';
}

/** Go's quoteChar: `'x'`, `'\''`, `'"'`, `'\n'`, `'\x01'`. Bytes ≥ 0x80 print as the Latin-1 rune. */
function quoteChar(c: number): string {
  if (c === 0x27) return `'\\''`;
  if (c === 0x22) return `'"'`;
  const q = goQuote(String.fromCharCode(c));
  return `'${q.slice(1, -1)}'`;
}

/** strconv.Quote (Go's %q): one implementation for the whole apiserver. */
export { goQuote } from '../../api/validation.ts';
import { goQuote } from '../../api/validation.ts';

/** fmt's %v of a decoded JSON value: `map[image:x name:a]`, `[a b]`, `<nil>`, `1e+06`. */
export function goFormat(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return goNumber(v);
  if (typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(goFormat).join(' ')}]`;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o).sort();
  return `map[${keys.map((k) => `${k}:${goFormat(o[k])}`).join(' ')}]`;
}

/** Integers decode as int64 (the apiserver keeps ints), the rest as float64 printed %g-shortest. */
function goNumber(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 2 ** 63) return BigInt(n).toString();
  if (!Number.isFinite(n)) return n > 0 ? '+Inf' : n < 0 ? '-Inf' : 'NaN';
  const [mant, e] = n.toExponential().split('e');
  const x = Number(e);
  if (x < -4 || x >= 6) {
    const sign = x < 0 ? '-' : '+';
    return `${mant}e${sign}${String(Math.abs(x)).padStart(2, '0')}`;
  }
  return String(n);
}

/** reflect.TypeOf(v).String() for a decoded JSON value, as mergepatch.ErrBadArgType prints it. */
export function goTypeName(v: unknown): string {
  if (v === null || v === undefined) return '%!s(<nil>)';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) && Math.abs(v) < 2 ** 63 ? 'int64' : 'float64';
  if (Array.isArray(v)) return '[]interface {}';
  return 'map[string]interface {}';
}

/** The JSON kind encoding/json names in UnmarshalTypeError: object, array, string, number, bool. */
export function goValueKind(v: JSONValue): string {
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'object';
  if (typeof v === 'boolean') return 'bool';
  return typeof v;
}
