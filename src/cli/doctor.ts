// `skiff doctor`: checks what a node needs to run real containers and prints exactly what
// to install. Exit status 1 when something a node cannot do without is missing.

import { parseArgs } from 'node:util';
import { checkPrerequisites, installCommand, type Check } from '../kubelet/containerd/prereqs.ts';

const MARK: Record<Check['status'], string> = { ok: 'ok  ', warn: 'warn', fail: 'FAIL' };

export function formatDoctor(checks: Check[]): string {
  const width = Math.max(...checks.map((c) => c.name.length));
  let text = checks.map((c) => `[${MARK[c.status]}] ${c.name.padEnd(width)}  ${c.detail}\n`).join('');
  const install = installCommand(checks);
  const failed = checks.filter((c) => c.status === 'fail').length;
  const warned = checks.filter((c) => c.status === 'warn').length;
  if (install) text += `\nTo install what is missing (Debian/Ubuntu, as root):\n  ${install}\n`;
  text += failed
    ? `\n${failed} check(s) failed: this machine cannot run real containers yet (simulated nodes work: skiff up --sim-nodes N).\n`
    : `\nThis machine can run real containers${warned ? ` (${warned} warning(s) above)` : ''}.\n`;
  return text;
}

export async function runDoctor(argv: string[], out: (text: string) => void = (t) => process.stdout.write(t)): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, allowPositionals: false });
  if (values.help) {
    out('Usage: skiff doctor [--json]   check containerd, runc, CNI plugins, nftables, cgroups and namespaces\n');
    return;
  }
  const checks = checkPrerequisites();
  out(values.json ? JSON.stringify({ checks, install: installCommand(checks) ?? null }, null, 2) + '\n' : formatDoctor(checks));
  if (checks.some((c) => c.status === 'fail')) process.exitCode = 1;
}
