import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ERR_FORMAT_WRONG, ERR_SUFFIX, parseQuantity, Quantity } from './quantity.ts';

const q = (s: string): Quantity => {
  const r = parseQuantity(s);
  assert.ok(r instanceof Quantity, `${s}: ${r}`);
  return r;
};

test('malformed quantities get upstream’s three parse errors', () => {
  assert.equal(parseQuantity(''), ERR_FORMAT_WRONG);
  assert.equal(parseQuantity('abc'), ERR_FORMAT_WRONG);
  assert.equal(parseQuantity('1.2.3'), ERR_FORMAT_WRONG);
  assert.equal(parseQuantity('1 Gi'), ERR_FORMAT_WRONG);
  assert.equal(parseQuantity('32MMi'), ERR_SUFFIX);
  assert.equal(parseQuantity('1e'), ERR_SUFFIX);
  assert.equal(parseQuantity('1Kb'), ERR_FORMAT_WRONG);
  assert.equal(q('.').toString(), '0');
  assert.equal(
    ERR_FORMAT_WRONG,
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
  );
});

test('canonical strings: cached when already canonical, recomputed otherwise', () => {
  const cases: [string, string][] = [
    ['500m', '500m'],
    ['0.5', '500m'],
    ['1.5', '1500m'],
    ['1000m', '1'],
    ['1Gi', '1Gi'],
    ['1024Mi', '1Gi'],
    ['1.5Gi', '1536Mi'],
    ['100', '100'],
    ['1000', '1k'],
    ['1e3', '1e3'],
    ['12e2', '1200'],
    ['0', '0'],
    ['-2', '-2'],
    ['100Mi', '100Mi'],
    ['1k', '1k'],
    ['0.1Gi', '107374182400m'],
  ];
  for (const [input, want] of cases) assert.equal(q(input).toString(), want, input);
});

test('values compare exactly across formats', () => {
  assert.equal(q('1Gi').cmp(q('1073741824')), 0);
  assert.equal(q('500m').cmp(q('0.5')), 0);
  assert.equal(q('2').cmp(q('1')), 1);
  assert.equal(q('1Mi').cmp(q('1M')), 1);
  assert.equal(q('-1').sign(), -1);
  assert.equal(q('1500m').milliValue(), 1500n);
  assert.equal(q('1.1').value(), 2n);
});

test('ResourceList values round up to milli precision, losing the cached string', () => {
  assert.equal(q('100u').roundUpMilli().toString(), '1m');
  assert.equal(q('1.0001').roundUpMilli().toString(), '1001m');
  assert.equal(q('250m').roundUpMilli().toString(), '250m');
});

test('%#v shows the int64Amount and the cached string', () => {
  assert.equal(
    q('1500m').goString(),
    'resource.Quantity{i:resource.int64Amount{value:1500, scale:-3}, d:resource.infDecAmount{Dec:(*inf.Dec)(nil)}, s:"1500m", Format:"DecimalSI"}',
  );
  assert.equal(
    q('1.5').goString(),
    'resource.Quantity{i:resource.int64Amount{value:15, scale:-1}, d:resource.infDecAmount{Dec:(*inf.Dec)(nil)}, s:"", Format:"DecimalSI"}',
  );
});
