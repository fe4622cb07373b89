// Resources served in two API shapes over one stored object, as upstream stores
// core/v1 Events and events.k8s.io/v1 Events in the same place: an Event recorded
// through either API is listed and watched through both.

import type { KObject } from '../api/object.ts';
import type { ResourceInfo } from '../api/resources.ts';
import { apiVersionOf } from '../api/resources.ts';

export interface View {
  /** The resource whose storage (and registry strategy) this view reads and writes. */
  storage: ResourceInfo;
  fromStorage(obj: KObject): KObject;
  toStorage(obj: KObject): KObject;
}

/** Field renames between events.k8s.io/v1 (left) and core/v1 (right). */
const EVENT_FIELDS: [string, string][] = [
  ['regarding', 'involvedObject'],
  ['note', 'message'],
  ['reportingController', 'reportingComponent'],
  ['deprecatedSource', 'source'],
  ['deprecatedFirstTimestamp', 'firstTimestamp'],
  ['deprecatedLastTimestamp', 'lastTimestamp'],
  ['deprecatedCount', 'count'],
];

function rename(obj: KObject, pairs: [string, string][], apiVersion: string, kind: string): KObject {
  const out: KObject = { apiVersion, kind, metadata: obj.metadata };
  const map = new Map(pairs);
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'apiVersion' || k === 'kind' || k === 'metadata') continue;
    out[map.get(k) ?? k] = v;
  }
  return out;
}

export function eventsView(eventsV1: ResourceInfo, coreEvents: ResourceInfo): View {
  const reverse = EVENT_FIELDS.map(([a, b]) => [b, a] as [string, string]);
  return {
    storage: coreEvents,
    fromStorage: (o) => rename(o, reverse, apiVersionOf(eventsV1), 'Event'),
    toStorage: (o) => rename(o, EVENT_FIELDS, apiVersionOf(coreEvents), 'Event'),
  };
}
