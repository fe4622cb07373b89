// Unit tier: the containerd layout and config, host detection, prerequisite reporting and
// the supervisor's failure paths (with stand-in binaries; the real containerd runs in
// test/runtime.test.ts).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  containerdLayout,
  detectCgroupDriver,
  detectCgroupVersion,
  hasCapability,
  registryHostsPath,
  renderContainerdConfig,
  renderRegistryHosts,
} from './config.ts';
import { installCommand, type Check } from './prereqs.ts';
import { formatDoctor } from '../../cli/doctor.ts';
import { ContainerdSupervisor } from './supervisor.ts';

test('layout: every host-wide name carries the cluster name', () => {
  const l = containerdLayout({ clusterName: 'dev', dataDir: '/var/lib/skiff/dev' });
  assert.equal(l.socket, '/run/skiff/dev/containerd/containerd.sock');
  assert.equal(l.endpoint, 'unix:///run/skiff/dev/containerd/containerd.sock');
  assert.equal(l.stateDir, '/run/skiff/dev/containerd');
  assert.equal(l.rootDir, '/var/lib/skiff/dev/containerd');
  assert.equal(l.configPath, '/var/lib/skiff/dev/etc/containerd/config.toml');
  assert.equal(l.cniConfDir, '/var/lib/skiff/dev/etc/cni/net.d');
  assert.equal(l.cniBinDir, '/usr/lib/cni');
  assert.throws(() => containerdLayout({ clusterName: 'Not_A_Label', dataDir: '/x' }), /DNS label/);
  assert.throws(() => containerdLayout({ clusterName: 'a', dataDir: '/x', runRoot: `/${'r'.repeat(90)}` }), /too long for a unix socket/);
});

test('config: paths, sandbox image, CNI dirs, cgroup driver, oom restriction, registry config_path', () => {
  const l = containerdLayout({ clusterName: 'dev', dataDir: '/d' });
  const cfg = renderContainerdConfig(l, { sandboxImage: 'localhost/skiff/pause:3.10', cgroupDriver: 'systemd', restrictOomScoreAdj: true });
  for (const line of [
    'version = 2',
    'root = "/d/containerd"',
    'state = "/run/skiff/dev/containerd"',
    'address = "/run/skiff/dev/containerd/containerd.sock"',
    'sandbox_image = "localhost/skiff/pause:3.10"',
    'netns_mounts_under_state_dir = true',
    'restrict_oom_score_adj = true',
    'stream_server_port = "0"',
    'SystemdCgroup = true',
    'Root = "/run/skiff/dev/containerd/runc"',
    'bin_dir = "/usr/lib/cni"',
    'conf_dir = "/d/etc/cni/net.d"',
    'config_path = "/d/etc/containerd/certs.d"',
  ]) {
    assert.ok(cfg.split('\n').some((l) => l.trim() === line), `config has ${line}`);
  }
  assert.match(renderContainerdConfig(l, { sandboxImage: 'p', cgroupDriver: 'cgroupfs' }), /SystemdCgroup = false\n[\s\S]*restrict_oom_score_adj = false|restrict_oom_score_adj = false[\s\S]*SystemdCgroup = false/);
});

test('registry hosts.toml: mirrors in order, credentials as an Authorization header', () => {
  const l = containerdLayout({ clusterName: 'dev', dataDir: '/d' });
  assert.equal(registryHostsPath(l, 'registry.local:5000'), '/d/etc/containerd/certs.d/registry.local:5000/hosts.toml');
  assert.throws(() => registryHostsPath(l, '../etc'), /host\[:port\]/);
  const toml = renderRegistryHosts('docker.io', [
    { url: 'http://127.0.0.1:5000' },
    { url: 'https://mirror.example', username: 'u', password: 'p', ca: '/etc/ca.pem', skipVerify: true },
  ]);
  assert.match(toml, /^server = "https:\/\/registry-1\.docker\.io"$/m);
  assert.ok(toml.indexOf('[host."http://127.0.0.1:5000"]') < toml.indexOf('[host."https://mirror.example"]'));
  assert.match(toml, /capabilities = \["pull", "resolve"\]/);
  assert.match(toml, new RegExp(`Authorization = \\["Basic ${Buffer.from('u:p').toString('base64')}"\\]`));
  assert.match(toml, /skip_verify = true/);
});

test('host detection: cgroup driver and version, capabilities', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'skiff-host-'));
  try {
    assert.equal(detectCgroupDriver(root), 'cgroupfs');
    assert.equal(detectCgroupVersion(root), 'v1');
    mkdirSync(path.join(root, 'run/systemd/system'), { recursive: true });
    mkdirSync(path.join(root, 'sys/fs/cgroup'), { recursive: true });
    writeFileSync(path.join(root, 'sys/fs/cgroup/cgroup.controllers'), 'cpu memory pids\n');
    assert.equal(detectCgroupDriver(root), 'systemd');
    assert.equal(detectCgroupVersion(root), 'v2');
    const status = path.join(root, 'status');
    writeFileSync(status, 'Name:\tx\nCapEff:\t000001fffeffffff\n');
    assert.equal(hasCapability(24, status), false, 'CAP_SYS_RESOURCE is bit 24');
    assert.equal(hasCapability(21, status), true, 'CAP_SYS_ADMIN');
    writeFileSync(status, 'CapEff:\t000001ffffffffff\n');
    assert.equal(hasCapability(24, status), true);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('doctor: names every package to install, once, and says whether containers can run', () => {
  const checks: Check[] = [
    { name: 'root', status: 'ok', detail: 'running as root' },
    { name: 'containerd', status: 'fail', detail: 'not found', packages: ['containerd'] },
    { name: 'ctr', status: 'fail', detail: 'not found', packages: ['containerd'] },
    { name: 'runc', status: 'fail', detail: 'not found', packages: ['runc'] },
    { name: 'cni plugins', status: 'fail', detail: 'missing', packages: ['containernetworking-plugins'] },
    { name: 'nft', status: 'fail', detail: 'not found', packages: ['nftables'] },
    { name: 'cgroups', status: 'warn', detail: 'v1' },
  ];
  assert.equal(installCommand(checks), 'apt-get install -y containerd runc containernetworking-plugins nftables');
  const text = formatDoctor(checks);
  assert.match(text, /^\[FAIL\] containerd +not found$/m);
  assert.match(text, /^\[warn\] cgroups +v1$/m);
  assert.match(text, /^  apt-get install -y containerd runc containernetworking-plugins nftables$/m);
  assert.match(text, /cannot run real containers yet/);
  assert.equal(installCommand([{ name: 'root', status: 'ok', detail: '' }]), undefined);
  assert.match(formatDoctor([{ name: 'root', status: 'ok', detail: '' }]), /This machine can run real containers\.\n$/);
});

test('supervisor: a containerd that dies before answering fails the start with its log; no restart loop', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'skiff-sup-'));
  try {
    const fake = path.join(dir, 'fake-containerd');
    writeFileSync(fake, '#!/bin/sh\necho "level=fatal msg=\\"failed to load config\\"" >&2\nexit 3\n');
    chmodSync(fake, 0o755);
    const layout = containerdLayout({ clusterName: 'sup', dataDir: path.join(dir, 'data'), runRoot: path.join(dir, 'run') });
    const sup = new ContainerdSupervisor({
      layout, containerd: fake, cgroupDriver: 'cgroupfs', restrictOomScoreAdj: false, backoff: { initialMs: 10, maxMs: 10 },
      registries: { 'registry.local:5000': [{ url: 'http://127.0.0.1:5001', username: 'u', password: 'p' }] },
    });
    await assert.rejects(sup.start(), /containerd exited \(3\) before it was ready[\s\S]*failed to load config/);
    await assert.rejects(sup.ready, /exited \(3\)/);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(sup.restarts, 0, 'a failed first start is not retried');
    assert.match(readFileSync(layout.configPath, 'utf8'), /SystemdCgroup = false/);
    const hosts = registryHostsPath(layout, 'registry.local:5000');
    assert.match(readFileSync(hosts, 'utf8'), /\[host\."http:\/\/127\.0\.0\.1:5001"\]/);
    assert.equal(statSync(hosts).mode & 0o777, 0o600, 'credentials readable by root only');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
