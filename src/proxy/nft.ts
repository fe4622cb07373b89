// Running nft (and writing the one sysctl the proxy needs), on the host or inside a
// network namespace (`ip netns exec NS ...`, for tests and benchmarks). The only place
// the proxy touches the system.

import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import type { TableContents } from './render.ts';

export interface NftRunner {
  /** Runs `nft args...` with `input` on stdin; resolves with stdout, rejects with stderr. */
  nft(args: string[], input?: string): Promise<string>;
  /** Writes a /proc/sys value (e.g. net/ipv4/conf/all/route_localnet = 1). */
  sysctl(key: string, value: string): Promise<void>;
  /** Where this runs, for logs ("host" or "netns NAME"). */
  readonly where: string;
}

export class NftMissingError extends Error {
  constructor() {
    super('nft not found: install the Debian package nftables (apt-get install nftables)');
    this.name = 'NftMissingError';
  }
}

function run(cmd: string, args: string[], input: string | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    p.stdout.on('data', (d) => out.push(d));
    p.stderr.on('data', (d) => err.push(d));
    p.on('error', (e: NodeJS.ErrnoException) => reject(e.code === 'ENOENT' ? new NftMissingError() : e));
    p.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString('utf8'));
      else reject(new Error(`${[cmd, ...args].join(' ')} exited ${code}: ${Buffer.concat(err).toString('utf8').trim().slice(0, 2000)}`));
    });
    p.stdin.on('error', () => {});
    p.stdin.end(input ?? '');
  });
}

/** nft on this machine, or inside the network namespace `netns`. */
export function nftRunner(opts: { netns?: string; nftPath?: string } = {}): NftRunner {
  const nftPath = opts.nftPath ?? 'nft';
  if (opts.netns) {
    const ns = opts.netns;
    return {
      where: `netns ${ns}`,
      nft: (args, input) => run('ip', ['netns', 'exec', ns, nftPath, ...args], input),
      async sysctl(key, value) {
        if (!/^[\w./-]+$/.test(key) || !/^\w+$/.test(value)) throw new Error(`invalid sysctl ${key}=${value}`);
        await run('ip', ['netns', 'exec', ns, 'sh', '-c', `echo ${value} > /proc/sys/${key}`], undefined);
      },
    };
  }
  return {
    where: 'host',
    nft: (args, input) => run(nftPath, args, input),
    sysctl: (key, value) => writeFile(`/proc/sys/${key}`, value),
  };
}

/** The chains, sets and maps the table holds now (empty when it does not exist). */
export async function listTable(runner: NftRunner, table: string): Promise<{ exists: boolean; contents: Required<TableContents> & { chains: string[]; sets: string[]; maps: string[] } }> {
  const contents = { chains: [] as string[], sets: [] as string[], maps: [] as string[] };
  let text: string;
  try {
    text = await runner.nft(['-j', 'list', 'table', 'inet', table]);
  } catch (e) {
    if (/No such file or directory/.test(String((e as Error).message))) return { exists: false, contents };
    throw e;
  }
  const doc = JSON.parse(text) as { nftables: Record<string, any>[] };
  for (const item of doc.nftables ?? []) {
    if (item.chain?.table === table) contents.chains.push(item.chain.name);
    else if (item.set?.table === table) contents.sets.push(item.set.name);
    else if (item.map?.table === table) contents.maps.push(item.map.name);
  }
  return { exists: true, contents };
}
