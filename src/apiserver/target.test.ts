// Unit tier: requestTarget reads every request target as the URL parser does, plain paths
// (read without it) and tricky ones (dot segments, escapes, a leading "//", queries) alike.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { requestTarget } from './server.ts';

test('requestTarget gives the pathname and query new URL gives', () => {
  const targets = [
    '/',
    '/api/v1/namespaces/default/pods/x',
    '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/sim-1',
    '/api/v1/nodes/sim-0/status',
    '/api/v1/pods/',
    '/a/..b',
    '/a/.b/c.',
    "/a/'x'/(y)*+,;=:@!$&~",
    '/api/v1/namespaces/default/pods?watch=true&resourceVersion=5',
    '/a?',
    '//evil.example/x',
    '/a/../b',
    '/a/./b',
    '/a/.',
    '/a/..',
    '/a/%2e%2e/b',
    '/a/%2E/b',
    '/a b',
    '/a\\b',
    '/a\tb',
    '/é',
    '/a#frag',
    '/a{b}',
    '/a`b"c<d>',
  ];
  for (const t of targets) {
    const want = new URL(t, 'http://x');
    const got = requestTarget(t);
    assert.equal(got.pathname, want.pathname, t);
    assert.equal(got.searchParams.toString(), want.searchParams.toString(), t);
  }
});
