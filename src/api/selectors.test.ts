import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isStatusError } from './errors.ts';
import { labelSelectorFromAPI, parseLabelSelector, selectorFromSet } from './selectors.ts';

/** Asserts a 400 BadRequest with exactly upstream's message. */
function rejects(fn: () => unknown, message: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isStatusError(e), `expected a StatusError, got ${String(e)}`);
    assert.equal(e.status.code, 400);
    assert.equal(e.status.reason, 'BadRequest');
    assert.equal(e.status.message, message);
    return true;
  });
}

const LABEL_VALUE_RULE =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

test('equality, inequality and set operators match as upstream', () => {
  const web = { app: 'web', tier: 'frontend' };
  const db = { app: 'db' };
  const cases: [string, boolean, boolean][] = [
    // selector, matches web, matches db
    ['app=web', true, false],
    ['app==web', true, false],
    ['app!=web', false, true],
    ['tier!=frontend', false, true], // != matches objects without the key
    ['app in (web,db)', true, true],
    ['app notin (web)', false, true],
    ['tier notin (backend)', true, true], // notin matches objects without the key
    ['tier', true, false],
    ['!tier', false, true],
    ['app=web,tier=frontend', true, false],
    ['app,!tier', false, true],
    ['', true, true],
  ];
  for (const [s, w, d] of cases) {
    const sel = parseLabelSelector(s);
    assert.equal(sel.matches(web), w, `${s} vs web`);
    assert.equal(sel.matches(db), d, `${s} vs db`);
  }
});

test('whitespace is free around tokens and "in"/"notin" are values inside parentheses', () => {
  const sel = parseLabelSelector('  app in ( web , db ) ,\ttier\n');
  assert.equal(sel.toString(), 'app in (db,web),tier');
  assert.ok(parseLabelSelector('in in (in,notin)').matches({ in: 'notin' }));
  assert.ok(parseLabelSelector('a=in').matches({ a: 'in' }));
});

test('empty values: a= matches "", () and (,) hold the empty value', () => {
  assert.ok(parseLabelSelector('a=').matches({ a: '' }));
  assert.ok(!parseLabelSelector('a=').matches({}));
  assert.ok(parseLabelSelector('a in ()').matches({ a: '' }));
  assert.equal(parseLabelSelector('x in (foo,,baz),y,z notin ()').toString(), 'x in (,baz,foo),y,z notin ()');
});

test('gt and lt compare integers and need the key', () => {
  const sel = parseLabelSelector('gen>5,gen<10');
  assert.ok(sel.matches({ gen: '7' }));
  assert.ok(!sel.matches({ gen: '5' }));
  assert.ok(!sel.matches({ gen: 'seven' }));
  assert.ok(!sel.matches({}));
});

test('labels inherited from Object.prototype do not count as present', () => {
  assert.ok(!parseLabelSelector('constructor').matches({}));
  assert.ok(parseLabelSelector('!toString').matches({}));
});

test('requirements are sorted by key and expose exact matches', () => {
  const sel = parseLabelSelector('b=2,a in (1)');
  assert.deepEqual(
    sel.requirements.map((r) => [r.key, r.operator, [...r.values]]),
    [
      ['a', 'in', ['1']],
      ['b', '=', ['2']],
    ],
  );
  assert.equal(sel.requiresExactMatch('a'), '1');
  assert.equal(sel.requiresExactMatch('b'), '2');
  assert.equal(sel.requiresExactMatch('c'), undefined);
  assert.ok(!sel.empty && !sel.nothing);
  assert.ok(parseLabelSelector('').empty);
});

test('malformed selectors answer 400 with upstream messages', () => {
  rejects(() => parseLabelSelector('app web'), "unable to parse requirement: found 'web', expected: in, notin, =, ==, !=, gt, lt");
  rejects(() => parseLabelSelector('app in'), "unable to parse requirement: found '' expected: '('");
  rejects(() => parseLabelSelector('app in (web'), "unable to parse requirement: found '', expected: ',' or ')'");
  rejects(() => parseLabelSelector('app in (a b)'), "unable to parse requirement: found 'b', expected: ',' or ')'");
  rejects(() => parseLabelSelector('app in (a,=)'), "unable to parse requirement: found '=', expected: ',', or identifier");
  rejects(() => parseLabelSelector('app=(web)'), "unable to parse requirement: found '(', expected: identifier");
  rejects(() => parseLabelSelector('!'), "unable to parse requirement: found '', expected: identifier");
  rejects(() => parseLabelSelector('a=b c'), "found 'c', expected: ',' or 'end of string'");
  rejects(() => parseLabelSelector('!a=b'), "found '=', expected: ',' or 'end of string'");
  rejects(() => parseLabelSelector('a,'), "found '', expected: identifier after ','");
  rejects(() => parseLabelSelector(',a'), "found ',', expected: !, identifier, or 'end of string'");
});

test('invalid keys and values answer 400 with upstream validation text', () => {
  rejects(
    () => parseLabelSelector('a/b/c=x'),
    'unable to parse requirement: <nil>: Invalid value: "a/b/c": a qualified name must consist of alphanumeric characters, \'-\', \'_\' or \'.\', and must start and end with an alphanumeric character (e.g. \'MyName\',  or \'my.name\',  or \'123-abc\', regex used for validation is \'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]\') with an optional DNS subdomain prefix and \'/\' (e.g. \'example.com/MyName\')',
  );
  rejects(() => parseLabelSelector('env in (a,-b)'), `unable to parse requirement: values[0][env]: Invalid value: "-b": ${LABEL_VALUE_RULE}`);
  rejects(
    () => parseLabelSelector('a=' + 'x'.repeat(64)),
    `unable to parse requirement: values[0][a]: Invalid value: "${'x'.repeat(64)}": must be no more than 63 characters`,
  );
  rejects(() => parseLabelSelector('gen>five'), 'unable to parse requirement: values[0]: Invalid value: "five": for \'Gt\', \'Lt\' operators, the value must be an integer');
});

test('metav1.LabelSelector: nil matches nothing, {} matches everything', () => {
  const none = labelSelectorFromAPI(undefined);
  assert.ok(none.nothing && !none.empty);
  assert.ok(!none.matches({}));
  assert.ok(!labelSelectorFromAPI(null).matches({ a: 'b' }));
  const all = labelSelectorFromAPI({});
  assert.ok(all.empty && all.matches({}) && all.matches({ a: 'b' }));
  assert.ok(labelSelectorFromAPI({ matchLabels: {}, matchExpressions: [] }).empty);
});

test('metav1.LabelSelector: matchLabels and matchExpressions are ANDed', () => {
  const sel = labelSelectorFromAPI({
    matchLabels: { app: 'web' },
    matchExpressions: [
      { key: 'tier', operator: 'In', values: ['frontend', 'edge'] },
      { key: 'canary', operator: 'DoesNotExist' },
      { key: 'env', operator: 'NotIn', values: ['dev'] },
      { key: 'team', operator: 'Exists' },
    ],
  });
  assert.ok(sel.matches({ app: 'web', tier: 'edge', team: 'x' }));
  assert.ok(!sel.matches({ app: 'web', tier: 'edge', team: 'x', canary: '' }));
  assert.ok(!sel.matches({ app: 'web', tier: 'edge', team: 'x', env: 'dev' }));
  assert.ok(!sel.matches({ app: 'web', tier: 'backend', team: 'x' }));
  assert.equal(sel.toString(), 'app=web,!canary,env notin (dev),team,tier in (edge,frontend)');
});

test('metav1.LabelSelector: invalid selectors answer with upstream messages', () => {
  rejects(
    () => labelSelectorFromAPI({ matchExpressions: [{ key: 'a', operator: 'In', values: [] }] }),
    "values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty",
  );
  rejects(
    () => labelSelectorFromAPI({ matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] }),
    'values: Invalid value: []string{"x"}: values set must be empty for exists and does not exist',
  );
  rejects(() => labelSelectorFromAPI({ matchExpressions: [{ key: 'a', operator: 'Equals' }] }), '"Equals" is not a valid label selector operator');
  rejects(() => labelSelectorFromAPI({ matchLabels: { a: '-x' } }), `values[0][a]: Invalid value: "-x": ${LABEL_VALUE_RULE}`);
});

test('selectorFromSet selects exactly the set', () => {
  const sel = selectorFromSet({ app: 'web' });
  assert.ok(sel.matches({ app: 'web', x: 'y' }));
  assert.ok(!sel.matches({ app: 'db' }));
  assert.ok(selectorFromSet(undefined).empty);
});
