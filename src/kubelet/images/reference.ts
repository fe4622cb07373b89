// Image references as Docker and containerd's CRI normalise them: `busybox` is
// `docker.io/library/busybox:latest`, `skiff-test/redis:7` is `docker.io/skiff-test/redis:7`,
// and a first component with a `.` or `:` or equal to `localhost` is a registry host.

export interface ImageReference {
  /** Registry host (`docker.io`, `localhost`, `registry.k8s.io:443`). */
  domain: string;
  /** Repository path inside the registry (`library/busybox`). */
  path: string;
  tag?: string;
  digest?: string;
}

const DEFAULT_DOMAIN = 'docker.io';
const NAME = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;

export function parseImageReference(ref: string): ImageReference {
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw new Error(`invalid image reference ${JSON.stringify(ref)}: bad digest`);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw new Error(`invalid image reference ${JSON.stringify(ref)}: bad tag`);
  }
  let domain = DEFAULT_DOMAIN;
  const slash = rest.indexOf('/');
  const first = slash >= 0 ? rest.slice(0, slash) : '';
  if (first && (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase())) {
    domain = first;
    rest = rest.slice(slash + 1);
  }
  if (domain === 'index.docker.io') domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !rest.includes('/')) rest = `library/${rest}`;
  if (!NAME.test(rest)) throw new Error(`invalid image reference ${JSON.stringify(ref)}: bad repository name`);
  return { domain, path: rest, tag: tag ?? (digest ? undefined : 'latest'), digest };
}

/** The fully qualified form containerd stores: `docker.io/library/busybox:latest`. */
export function normalizeImageName(ref: string): string {
  const r = parseImageReference(ref);
  return `${r.domain}/${r.path}${r.tag ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`;
}

/** The short form Docker prints: `busybox:latest`, `skiff-test/redis:7`, `localhost/skiff/pause:3.10`. */
export function familiarImageName(ref: string): string {
  const r = parseImageReference(ref);
  let name = r.domain === DEFAULT_DOMAIN ? r.path.replace(/^library\//, '') : `${r.domain}/${r.path}`;
  if (r.tag) name += `:${r.tag}`;
  if (r.digest) name += `@${r.digest}`;
  return name;
}
