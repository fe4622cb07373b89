import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseStandardCron } from './cron.ts';

const zone = (tz: string) => (tz === 'UTC' || tz === 'Europe/Paris' ? undefined : `unknown time zone ${tz}`);
const parse = (s: string) => parseStandardCron(s, zone);

test('valid schedules parse', () => {
  for (const s of ['* * * * *', '*/5 * * * *', '0 0 1 jan,jul *', '30 2 * * MON-FRI', '@hourly', '@every 1h30m', '0 9-17/2 * * 1-5', 'CRON_TZ=UTC 0 0 * * *']) {
    assert.equal(parse(s), undefined, s);
  }
});

test('robfig/cron error texts', () => {
  assert.equal(parse(''), 'empty spec string');
  assert.equal(parse('every minute'), 'expected exactly 5 fields, found 2: [every minute]');
  assert.equal(parse('* * * * * *'), 'expected exactly 5 fields, found 6: [* * * * * *]');
  assert.equal(parse('61 * * * *'), 'end of range (61) above maximum (59): 61');
  assert.equal(parse('* 24 * * *'), 'end of range (24) above maximum (23): 24');
  assert.equal(parse('* * 0 * *'), 'beginning of range (0) below minimum (1): 0');
  assert.equal(parse('5-2 * * * *'), 'beginning of range (5) beyond end of range (2): 5-2');
  assert.equal(parse('*/0 * * * *'), 'step of range should be a positive number: */0');
  assert.equal(parse('x * * * *'), 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax');
  assert.equal(parse('1-2-3 * * * *'), 'too many hyphens: 1-2-3');
  assert.equal(parse('1/2/3 * * * *'), 'too many slashes: 1/2/3');
  assert.equal(parse('@fortnightly'), 'unrecognized descriptor: @fortnightly');
  assert.equal(parse('@every soon'), 'failed to parse duration @every soon: time: invalid duration "soon"');
  assert.equal(parse('TZ=Nowhere/City * * * * *'), 'provided bad location Nowhere/City: unknown time zone Nowhere/City');
});
