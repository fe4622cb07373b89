// skiff agent's and skiff up's node flags: every bad value is refused before anything
// starts, with a message naming the flag; defaults follow the kubelet's and kubeadm's.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { agentConfig, kubeconfigClusterName, nodeFlags } from './agent.ts';

const KUBECONFIG = `apiVersion: v1
kind: Config
clusters:
- name: skiff-lab
  cluster: {server: 'https://127.0.0.1:6443', certificate-authority-data: ''}
users:
- name: admin
  user: {}
contexts:
- name: admin@skiff-lab
  context: {cluster: skiff-lab, user: admin}
current-context: admin@skiff-lab
`;

test('node flags: name lower-cased (also as --hostname-override), IPv4, unix socket endpoint, manifest dir', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'skiff-agent-flags-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  assert.equal(nodeFlags({ 'node-name': 'Worker-1' }).nodeName, 'worker-1');
  assert.equal(nodeFlags({ 'hostname-override': 'w2.lab' }).nodeName, 'w2.lab');
  assert.throws(() => nodeFlags({ 'node-name': 'a', 'hostname-override': 'b' }), /--node-name a and --hostname-override b disagree/);
  assert.throws(() => nodeFlags({ 'node-name': 'bad_name' }), /--node-name "bad_name": a node name must be a lowercase RFC 1123 subdomain/);
  assert.equal(nodeFlags({ 'node-name': 'n', 'node-ip': '192.0.2.7' }).nodeIP, '192.0.2.7');
  assert.throws(() => nodeFlags({ 'node-name': 'n', 'node-ip': '192.0.2' }), /--node-ip "192.0.2": not an IPv4 address/);
  assert.throws(() => nodeFlags({ 'node-name': 'n', 'container-runtime-endpoint': '/run/containerd/containerd.sock' }), /expected unix:\/\/\/path\/to\/containerd.sock/);
  assert.throws(() => nodeFlags({ 'node-name': 'n', 'container-runtime-endpoint': `unix://${dir}/none.sock` }), new RegExp(`no socket at ${dir}/none.sock \\(is containerd running\\?\\)`));
  writeFileSync(path.join(dir, 'file'), '');
  assert.throws(() => nodeFlags({ 'node-name': 'n', 'container-runtime-endpoint': `unix://${dir}/file` }), /is not a socket/);
  const sock = path.join(dir, 'rt.sock');
  const srv = net.createServer().listen(sock);
  await new Promise((r) => srv.once('listening', r));
  t.after(() => srv.close());
  assert.equal(nodeFlags({ 'node-name': 'n', 'container-runtime-endpoint': `unix://${sock}` }).containerRuntimeEndpoint, `unix://${sock}`);
  assert.throws(() => nodeFlags({ 'node-name': 'n', 'pod-manifest-path': path.join(dir, 'file') }), /--pod-manifest-path .*file: not a directory/);
  // a directory that does not exist yet is accepted, as by the kubelet
  assert.equal(nodeFlags({ 'node-name': 'n', 'pod-manifest-path': path.join(dir, 'later') }).podManifestPath, path.join(dir, 'later'));
});

test('agent config: defaults, CIDR/port/DNS checks, the host names come from the kubeconfig cluster', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'skiff-agent-cfg-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const kubeconfig = path.join(dir, 'kc');
  writeFileSync(kubeconfig, KUBECONFIG);
  const cfg = agentConfig({ kubeconfig, 'node-name': 'w1' }, path.join(dir, 'default-data'));
  assert.equal(cfg.clusterName, 'skiff-lab');
  assert.equal(cfg.clusterCIDR, '10.244.0.0/16');
  assert.equal(cfg.serviceCIDR, '10.96.0.0/12');
  assert.equal(cfg.clusterDNS, '10.96.0.10');
  assert.equal(cfg.kubeletPort, 10250);
  assert.equal(cfg.dataDir, path.join(dir, 'default-data'));
  assert.equal(cfg.allowEgress, true);
  assert.equal(agentConfig({ kubeconfig, 'node-name': 'w1', 'service-cidr': '10.100.0.0/16' }, dir).clusterDNS, '10.100.0.10');
  assert.equal(agentConfig({ kubeconfig, 'node-name': 'w1', 'kubelet-port': '0', 'no-pod-egress': true }, dir).kubeletPort, 0);
  const bad: [Record<string, string>, RegExp][] = [
    [{ 'cluster-cidr': '10.244.0.0' }, /--cluster-cidr: "10.244.0.0" is not an IPv4 CIDR/],
    [{ 'service-cidr': '10.96.0.0/33' }, /--service-cidr: "10.96.0.0\/33" is not an IPv4 CIDR/],
    [{ 'cluster-cidr': '10.96.0.0/16' }, /--cluster-cidr 10.96.0.0\/16 overlaps --service-cidr 10.96.0.0\/12/],
    [{ 'cluster-dns': 'kube-dns' }, /--cluster-dns "kube-dns": not an IPv4 address/],
    [{ 'kubelet-port': '70000' }, /--kubelet-port "70000": not a port/],
    [{ 'kubelet-port': '-1' }, /--kubelet-port "-1": not a port/],
  ];
  for (const [flags, re] of bad) assert.throws(() => agentConfig({ kubeconfig, 'node-name': 'w1', ...flags }, dir), re);
  assert.throws(() => agentConfig({ kubeconfig: path.join(dir, 'missing'), 'node-name': 'w1' }, dir), /--kubeconfig .*missing: no such file/);
});

test('the cluster name for host names is a DNS label made from the kubeconfig cluster', () => {
  assert.equal(kubeconfigClusterName(KUBECONFIG), 'skiff-lab');
  assert.equal(kubeconfigClusterName(KUBECONFIG.replaceAll('skiff-lab', 'arn:aws:eks:eu-west-1:1234:cluster/Prod')), 'arn-aws-eks-eu-west-1-1234-cluster-prod');
  assert.equal(kubeconfigClusterName('apiVersion: v1\n'), 'skiff');
});
