// `skiff images`: load image archives into a node's containerd without a registry (the
// airgap flow) and list what the node has, as `crictl images` shows it.
//
//   skiff images import FILE.tar [FILE...]   OCI layout or docker-archive (.tar, .tar.gz)
//   skiff images list [-q] [--digests]
//
// The runtime is the cluster's own containerd (by --name / --data-dir), or any CRI
// runtime given with --container-runtime-endpoint.

import path from 'node:path';
import { parseArgs } from 'node:util';
import { CriClient } from '../kubelet/cri/client.ts';
import { containerdLayout } from '../kubelet/containerd/config.ts';
import { importImageArchive } from '../kubelet/images/import.ts';

const USAGE = `Usage:
  skiff images import FILE.tar [FILE...]   import OCI or docker-archive tars (also .tar.gz) into the node's containerd
  skiff images list [-q] [--digests]       list the node's images (IMAGE, TAG, IMAGE ID, SIZE)

Flags:
  --name NAME                          cluster name (default "default"): its containerd at /run/skiff/NAME/
  --container-runtime-endpoint EP      use this runtime instead (unix:///run/containerd/containerd.sock)

Archives in <data-dir>/images/ are imported automatically whenever the node starts.
`;

const FLAGS = {
  name: { type: 'string' },
  'container-runtime-endpoint': { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  digests: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export interface CliIO {
  out: (text: string) => void;
}

const stdio: CliIO = { out: (t) => process.stdout.write(t) };

/** `2.13MB`: decimal units, three significant digits, as crictl and docker print sizes. */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${Number(v.toPrecision(3))}${units[i]}`;
}

/** Rows of `skiff images list`: one per repo tag, untagged images as <none>. */
export function imageRows(images: { id: string; repoTags: string[]; repoDigests: string[]; size: number }[], opts: { digests?: boolean } = {}): string[][] {
  const rows: string[][] = [];
  for (const img of images) {
    const id = img.id.replace(/^sha256:/, '').slice(0, 13);
    const digest = img.repoDigests[0]?.split('@')[1]?.replace(/^sha256:/, '').slice(0, 13) ?? '<none>';
    const tags = img.repoTags.length ? img.repoTags : ['<none>:<none>'];
    for (const t of tags) {
      const colon = t.lastIndexOf(':');
      const row = [t.slice(0, colon), t.slice(colon + 1)];
      if (opts.digests) row.push(digest);
      row.push(id, humanSize(img.size));
      rows.push(row);
    }
  }
  return rows.sort((a, b) => a[0].localeCompare(b[0]) || a[1].localeCompare(b[1]));
}

export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] + 3))).join('') + '\n';
  return line(header) + rows.map(line).join('');
}

export async function runImages(argv: string[], io: CliIO = stdio): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, options: FLAGS, allowPositionals: true });
  const [sub, ...files] = positionals;
  if (values.help || !sub || sub === 'help') {
    io.out(USAGE);
    return;
  }
  const name = values.name ?? 'default';
  const endpoint = values['container-runtime-endpoint']
    // the socket depends on the cluster name only; the data dir does not matter here
    ?? containerdLayout({ clusterName: name, dataDir: '/' }).endpoint;
  const address = endpoint.replace(/^unix:\/\//, '').replace(/^unix:/, '');
  const cri = new CriClient(endpoint, { timeoutMs: 10_000 });
  try {
    await cri.version({ timeoutMs: 3000 }).catch((e: Error) => {
      throw new Error(`no container runtime answers at ${endpoint} (${e.message}): start the node (skiff up / skiff agent), ` +
        'pass --container-runtime-endpoint, or copy the archive into <data-dir>/images/ to have it imported at the next start');
    });
    switch (sub) {
      case 'import': {
        if (files.length === 0) throw new Error('skiff images import: name at least one archive (FILE.tar)');
        for (const file of files) {
          const started = performance.now();
          const names = await importImageArchive(path.resolve(file), { address });
          io.out(`imported ${file}: ${names.length ? names.join(', ') : '(no tagged images)'} in ${((performance.now() - started) / 1000).toFixed(2)}s\n`);
        }
        return;
      }
      case 'list':
      case 'ls': {
        const images = await cri.listImages();
        if (values.quiet) {
          for (const img of images) io.out(`${img.id}\n`);
          return;
        }
        const header = values.digests ? ['IMAGE', 'TAG', 'DIGEST', 'IMAGE ID', 'SIZE'] : ['IMAGE', 'TAG', 'IMAGE ID', 'SIZE'];
        io.out(formatTable(header, imageRows(images, { digests: values.digests })));
        return;
      }
      default:
        throw new Error(`skiff images: unknown command "${sub}"\n\n${USAGE}`);
    }
  } finally {
    cri.close();
  }
}
