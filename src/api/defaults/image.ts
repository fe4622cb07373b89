// A container image reference as the apiserver reads it to pick a default imagePullPolicy
// (pkg/util/parsers.ParseImageName over distribution/reference's ParseNormalizedNamed):
// the tag defaults to "latest" only when there is neither a tag nor a digest, and a
// reference that does not parse has no tag at all (so it gets IfNotPresent).

const ALNUM = '[a-z0-9]+';
const SEPARATOR = '(?:[._]|__|[-]+)';
const PATH_COMPONENT = `${ALNUM}(?:${SEPARATOR}${ALNUM})*`;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN_NAME = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*`;
const IPV6 = '\\[(?:[a-fA-F0-9:]+)\\]';
// IPv4 addresses are also domain names under this grammar.
const DOMAIN = `(?:${DOMAIN_NAME}|${IPV6})(?::[0-9]+)?`;
const NAME = `(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const REFERENCE = new RegExp(`^(${NAME})(?::(${TAG}))?(?:@(${DIGEST}))?$`);
const IDENTIFIER = /^[a-f0-9]{64}$/;
const NAME_TOTAL_LENGTH_MAX = 255;
// Digest algorithms a Go binary with crypto/sha256 and crypto/sha512 linked accepts, and
// the exact length of their hex encodings (lower case only).
const DIGEST_HEX_LENGTH: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };

export interface ImageReference {
  /** Normalized repository, e.g. docker.io/library/nginx. */
  repository: string;
  /** "latest" when neither a tag nor a digest was given; "" when only a digest was. */
  tag: string;
  digest: string;
}

/** ParseNormalizedNamed plus the "latest" rule; undefined where upstream reports an error. */
export function parseImageName(image: string): ImageReference | undefined {
  if (IDENTIFIER.test(image)) return undefined;
  // Docker Hub names get their implicit domain and library/ prefix.
  const slash = image.indexOf('/');
  let domain: string;
  let remainder: string;
  const first = slash === -1 ? '' : image.slice(0, slash);
  if (slash === -1 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    domain = 'docker.io';
    remainder = image;
  } else {
    domain = first;
    remainder = image.slice(slash + 1);
  }
  if (domain === 'index.docker.io') domain = 'docker.io';
  if (domain === 'docker.io' && !remainder.includes('/')) remainder = `library/${remainder}`;
  const colon = remainder.indexOf(':');
  const remoteName = colon === -1 ? remainder : remainder.slice(0, colon);
  if (remoteName.toLowerCase() !== remoteName) return undefined;

  const m = REFERENCE.exec(`${domain}/${remainder}`);
  if (!m) return undefined;
  const [, repository, tag = '', digest = ''] = m;
  if (repository.length > NAME_TOTAL_LENGTH_MAX) return undefined;
  if (digest) {
    const sep = digest.indexOf(':');
    const want = DIGEST_HEX_LENGTH[digest.slice(0, sep)];
    if (want === undefined || !new RegExp(`^[a-f0-9]{${want}}$`).test(digest.slice(sep + 1))) return undefined;
  }
  return { repository, tag: !tag && !digest ? 'latest' : tag, digest };
}

/** SetDefaults_Container's rule: Always for a :latest (or untagged) image, else IfNotPresent. */
export function defaultPullPolicy(image: unknown): 'Always' | 'IfNotPresent' {
  const ref = typeof image === 'string' ? parseImageName(image) : undefined;
  return ref?.tag === 'latest' ? 'Always' : 'IfNotPresent';
}
