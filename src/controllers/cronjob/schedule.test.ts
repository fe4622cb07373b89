// Cron schedule parsing and next-time computation, in UTC and in zones with DST.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../../api/object.ts';
import { formatRFC1123Z, formatRFC3339In, parseGoDuration, parseSchedule } from './schedule.ts';
import { jobName, mostRecentScheduleTime } from './controller.ts';

const at = (iso: string) => Date.parse(iso);
const iso = (t: number | undefined) => (t === undefined ? undefined : new Date(t).toISOString());

function nextN(spec: string, from: string, n: number, tz = 'UTC'): (string | undefined)[] {
  const s = parseSchedule(spec, tz);
  const out: (string | undefined)[] = [];
  let t: number | undefined = at(from);
  for (let i = 0; i < n && t !== undefined; i++) {
    t = s.next(t);
    out.push(iso(t));
  }
  return out;
}

describe('cron schedules', () => {
  it('steps, ranges and lists', () => {
    assert.deepEqual(nextN('*/15 * * * *', '2026-03-02T10:07:00Z', 3), ['2026-03-02T10:15:00.000Z', '2026-03-02T10:30:00.000Z', '2026-03-02T10:45:00.000Z']);
    assert.deepEqual(nextN('5,10-12 8 * * *', '2026-03-02T08:10:30Z', 3), ['2026-03-02T08:11:00.000Z', '2026-03-02T08:12:00.000Z', '2026-03-03T08:05:00.000Z']);
    assert.deepEqual(nextN('10/20 * * * *', '2026-03-02T08:00:00Z', 3), ['2026-03-02T08:10:00.000Z', '2026-03-02T08:30:00.000Z', '2026-03-02T08:50:00.000Z']);
  });

  it('is strictly after the given time', () => {
    assert.deepEqual(nextN('* * * * *', '2026-03-02T10:00:00Z', 1), ['2026-03-02T10:01:00.000Z']);
    assert.deepEqual(nextN('0 * * * *', '2026-03-02T10:00:00.001Z', 1), ['2026-03-02T11:00:00.000Z']);
  });

  it('names of months and weekdays, case-insensitive', () => {
    // 2026-03-07 is a Saturday.
    assert.deepEqual(nextN('0 9 * * MON-fri', '2026-03-07T12:00:00Z', 2), ['2026-03-09T09:00:00.000Z', '2026-03-10T09:00:00.000Z']);
    assert.deepEqual(nextN('0 0 1 jan,JUL *', '2026-03-07T12:00:00Z', 2), ['2026-07-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z']);
  });

  it('day-of-month OR day-of-week when both are restricted; AND when one is *', () => {
    // Friday the 13th style: the 13th, or any Friday.
    assert.deepEqual(nextN('0 0 13 * 5', '2026-03-01T00:00:00Z', 4), ['2026-03-06T00:00:00.000Z', '2026-03-13T00:00:00.000Z', '2026-03-20T00:00:00.000Z', '2026-03-27T00:00:00.000Z']);
    assert.deepEqual(nextN('0 0 * * 5', '2026-03-01T00:00:00Z', 1), ['2026-03-06T00:00:00.000Z']);
    assert.deepEqual(nextN('0 0 */10 * *', '2026-03-01T00:00:00Z', 3), ['2026-03-11T00:00:00.000Z', '2026-03-21T00:00:00.000Z', '2026-03-31T00:00:00.000Z']);
  });

  it('descriptors', () => {
    assert.deepEqual(nextN('@hourly', '2026-03-02T10:07:00Z', 1), ['2026-03-02T11:00:00.000Z']);
    assert.deepEqual(nextN('@daily', '2026-03-02T10:07:00Z', 1), ['2026-03-03T00:00:00.000Z']);
    assert.deepEqual(nextN('@weekly', '2026-03-02T10:07:00Z', 1), ['2026-03-08T00:00:00.000Z']);
    assert.deepEqual(nextN('@monthly', '2026-03-02T10:07:00Z', 1), ['2026-04-01T00:00:00.000Z']);
    assert.deepEqual(nextN('@yearly', '2026-03-02T10:07:00Z', 1), ['2027-01-01T00:00:00.000Z']);
    assert.deepEqual(nextN('@every 90m', '2026-03-02T10:07:30.500Z', 1), ['2026-03-02T11:37:30.000Z']);
    assert.equal(parseGoDuration('1h30m'), 5_400_000);
  });

  it('February 29th waits for a leap year', () => {
    assert.deepEqual(nextN('0 0 29 2 *', '2026-03-01T00:00:00Z', 1), ['2028-02-29T00:00:00.000Z']);
    assert.deepEqual(nextN('0 0 30 2 *', '2026-03-01T00:00:00Z', 1), [undefined]);
  });

  it('time zones: wall-clock times across DST', () => {
    // Paris: UTC+1 in winter, UTC+2 from 2026-03-29.
    assert.deepEqual(nextN('0 9 * * *', '2026-03-27T12:00:00Z', 3, 'Europe/Paris'), ['2026-03-28T08:00:00.000Z', '2026-03-29T07:00:00.000Z', '2026-03-30T07:00:00.000Z']);
    // New York springs forward at 02:00 on 2026-03-08: 02:30 does not exist that day.
    assert.deepEqual(nextN('30 2 * * *', '2026-03-07T12:00:00Z', 2, 'America/New_York'), ['2026-03-09T06:30:00.000Z', '2026-03-10T06:30:00.000Z']);
    assert.deepEqual(nextN('0 0 * * *', '2026-01-01T00:00:00Z', 1, 'Asia/Kolkata'), ['2026-01-01T18:30:00.000Z']);
    assert.equal(formatRFC3339In(at('2026-01-01T00:00:00Z'), 'Asia/Tokyo'), '2026-01-01T09:00:00+09:00');
    assert.equal(formatRFC3339In(at('2026-01-01T00:00:00Z'), 'UTC'), '2026-01-01T00:00:00Z');
    assert.equal(formatRFC3339In(at('2026-01-01T00:00:00Z'), 'America/St_Johns'), '2025-12-31T20:30:00-03:30');
    assert.equal(formatRFC1123Z(at('2026-01-02T15:04:05Z')), 'Fri, 02 Jan 2026 15:04:05 +0000');
  });

  it('errors as robfig/cron reports them', () => {
    assert.throws(() => parseSchedule('* * * *'), /^ScheduleError: expected exactly 5 fields, found 4: \* \* \* \*$/);
    assert.throws(() => parseSchedule('61 * * * *'), /end of range \(61\) above maximum \(59\): 61/);
    assert.throws(() => parseSchedule('* * 0 * *'), /beginning of range \(0\) below minimum \(1\): 0/);
    assert.throws(() => parseSchedule('5-2 * * * *'), /beginning of range \(5\) beyond end of range \(2\): 5-2/);
    assert.throws(() => parseSchedule('*/0 * * * *'), /step of range should be a positive number: \*\/0/);
    assert.throws(() => parseSchedule('@fortnightly'), /unrecognized descriptor: @fortnightly/);
    assert.throws(() => parseSchedule('* * * * 7'), /end of range \(7\) above maximum \(6\): 7/);
    assert.throws(() => parseSchedule('a * * * *'), /failed to parse int from a/);
    assert.throws(() => parseSchedule(''), /empty spec string/);
  });
});

describe('cronjob schedule bookkeeping', () => {
  const cj = (created: string, extra: Record<string, any> = {}): KObject => ({ metadata: { name: 'c', creationTimestamp: created }, spec: { schedule: '* * * * *', ...extra.spec }, status: extra.status ?? {} });
  const every = parseSchedule('* * * * *', 'UTC');

  it('the most recent unmet time, and whether many were missed', () => {
    const r1 = mostRecentScheduleTime(cj('2026-03-02T10:00:30Z'), at('2026-03-02T10:00:50Z'), every, true);
    assert.equal(r1.mostRecent, undefined);
    const r2 = mostRecentScheduleTime(cj('2026-03-02T10:00:30Z'), at('2026-03-02T10:01:10Z'), every, true);
    assert.equal(iso(r2.mostRecent), '2026-03-02T10:01:00.000Z');
    assert.equal(r2.missed, 'few');
    const r3 = mostRecentScheduleTime(cj('2026-03-02T10:00:30Z'), at('2026-03-02T13:00:10Z'), every, true);
    assert.equal(iso(r3.mostRecent), '2026-03-02T13:00:00.000Z');
    assert.equal(r3.missed, 'many');
    // startingDeadlineSeconds bounds how far back to look: nothing is "many" any more.
    const r4 = mostRecentScheduleTime(cj('2026-03-02T10:00:30Z', { spec: { startingDeadlineSeconds: 200 } }), at('2026-03-02T13:00:10Z'), every, true);
    assert.equal(iso(r4.mostRecent), '2026-03-02T13:00:00.000Z');
    assert.equal(r4.missed, 'few');
    // From the last schedule, not the creation.
    const r5 = mostRecentScheduleTime(cj('2026-03-02T10:00:30Z', { status: { lastScheduleTime: '2026-03-02T13:00:00Z' } }), at('2026-03-02T13:00:10Z'), every, true);
    assert.equal(r5.mostRecent, undefined);
  });

  it('Job names carry the scheduled time in minutes', () => {
    assert.equal(jobName({ metadata: { name: 'hello' } }, at('2026-03-02T10:01:00Z')), `hello-${at('2026-03-02T10:01:00Z') / 60_000}`);
  });
});
