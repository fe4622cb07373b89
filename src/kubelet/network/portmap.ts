// The portmap CNI plugin (hostPort) programs iptables' nat table: per pod a CNI-DN-<hash>
// chain, which its DEL removes, and three shared chains with jumps from the base chains,
// which nothing removes. They are shared by every CNI user of the machine (every skiff
// cluster too), so they go only when no pod anywhere has a hostPort any more (no CNI-DN-
// chain, CNI-HOSTPORT-DNAT empty). With the nft backend of iptables (Debian's default) a
// nat table left with no rule and no chain of its own is removed too: portmap made it.

import { spawn } from 'node:child_process';
import type { Logger } from '../containerd/supervisor.ts';

function run(cmd: string, args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('error', (e) => resolve({ code: -1, out, err: e.message }));
    p.on('close', (code) => resolve({ code: code ?? -1, out, err }));
  });
}

/** The jumps portmap (containernetworking-plugins 1.x) adds to the base chains. */
const JUMPS: string[][] = [
  ['PREROUTING', '-m', 'addrtype', '--dst-type', 'LOCAL', '-j', 'CNI-HOSTPORT-DNAT'],
  ['OUTPUT', '-m', 'addrtype', '--dst-type', 'LOCAL', '-j', 'CNI-HOSTPORT-DNAT'],
  ['POSTROUTING', '-m', 'comment', '--comment', 'CNI portfwd requiring masquerade', '-j', 'CNI-HOSTPORT-MASQ'],
];
const CHAINS = ['CNI-HOSTPORT-DNAT', 'CNI-HOSTPORT-MASQ', 'CNI-HOSTPORT-SETMARK'];
const BASE = new Set(['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING']);

/** Removes portmap's shared chains when no hostPort is mapped any more; returns what it removed. */
export async function removeIdlePortmapChains(log: Logger = () => {}): Promise<string[]> {
  const removed: string[] = [];
  for (const [tool, family] of [['iptables', 'ip'], ['ip6tables', 'ip6']] as const) {
    const listed = await run(tool, ['-t', 'nat', '-S']);
    if (listed.code !== 0) continue; // no iptables, or no nat table
    const lines = listed.out.split('\n').filter(Boolean);
    const chains = lines.filter((l) => l.startsWith('-N ')).map((l) => l.slice(3).trim());
    const inUse = chains.some((c) => c.startsWith('CNI-DN-')) || lines.some((l) => l.startsWith('-A CNI-HOSTPORT-DNAT '));
    if (inUse) continue;
    if (chains.includes('CNI-HOSTPORT-DNAT')) {
      for (const jump of JUMPS) {
        // -C first: -D of a missing rule prints an error, and a rule added twice needs two deletes
        while ((await run(tool, ['-t', 'nat', '-C', ...jump])).code === 0) {
          if ((await run(tool, ['-t', 'nat', '-D', ...jump])).code !== 0) break;
        }
      }
      for (const chain of CHAINS.filter((c) => chains.includes(c))) {
        await run(tool, ['-t', 'nat', '-F', chain]);
        const r = await run(tool, ['-t', 'nat', '-X', chain]);
        if (r.code === 0) removed.push(`${tool} nat ${chain}`);
        else log('could not remove portmap chain', { tool, chain, error: r.err.trim() });
      }
    }
    // iptables-nft: the nat table itself, when it holds nothing (portmap creates it in both families)
    const after = await run(tool, ['-t', 'nat', '-S']);
    const rest = after.out.split('\n').filter(Boolean);
    const empty = after.code === 0 && rest.every((l) => /^-P (\S+) ACCEPT$/.test(l) && BASE.has(l.split(' ')[1]));
    if (empty && /nf_tables/.test((await run(tool, ['--version'])).out)) {
      if ((await run('nft', ['delete', 'table', family, 'nat'])).code === 0) removed.push(`nft table ${family} nat`);
    }
  }
  if (removed.length) log('removed idle portmap chains', { removed });
  return removed;
}
