// kubeconfig files as kubectl writes and reads them (clientcmd's v1 Config): build the
// admin kubeconfig, merge it into ~/.kube/config under one name the way kind and k3d
// do, and read the current context's connection settings back for the client.
//
// YAML is handled as YAML 1.1 because client-go reads kubeconfigs with go-yaml v2:
// strings such as `yes`, `on` or `0x1F` are quoted when written, and entries this code
// does not touch are written back as they were (comments included).

import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Document, isMap, isSeq, parseDocument, type YAMLMap } from 'yaml';

export interface BuildKubeconfigOptions {
  clusterName: string;
  /** https://host:port (or http:// for an insecure local server). */
  server: string;
  caCertPem: string;
  userName: string;
  clientCertPem?: string;
  clientKeyPem?: string;
  token?: string;
  /** Default namespace of the context. */
  namespace?: string;
}

/** What a client needs from the selected context. PEM strings are decoded from *-data or read from the referenced files. */
export interface KubeconfigCredentials {
  contextName: string;
  server: string;
  /** Absent when the cluster entry names no CA (system roots, or an http:// server). */
  caCertPem?: string;
  clientCertPem?: string;
  clientKeyPem?: string;
  token?: string;
  namespace?: string;
  insecureSkipTLSVerify?: boolean;
  tlsServerName?: string;
}

export interface ParseKubeconfigOptions {
  /** Use this context instead of current-context (kubectl's --context). */
  context?: string;
  /** Where the text came from: relative file references resolve against its folder, as in kubectl. */
  path?: string;
}

const YAML_OPTIONS = { version: '1.1' } as const;
const TO_STRING_OPTIONS = { indentSeq: false } as const; // kubectl's own layout: `- name:` flush with the key

/** A complete kubeconfig with one cluster, one user and one context `<user>@<cluster>` (kubeadm's naming), selected. */
export function buildKubeconfig(opts: BuildKubeconfigOptions): string {
  if (!/^https?:\/\//.test(opts.server)) throw new Error(`server must be an http(s) URL, got ${JSON.stringify(opts.server)}`);
  if ((opts.clientCertPem === undefined) !== (opts.clientKeyPem === undefined)) {
    throw new Error('clientCertPem and clientKeyPem go together');
  }
  const contextName = `${opts.userName}@${opts.clusterName}`;
  const user: Record<string, string> = {};
  if (opts.clientCertPem !== undefined) user['client-certificate-data'] = base64(opts.clientCertPem);
  if (opts.clientKeyPem !== undefined) user['client-key-data'] = base64(opts.clientKeyPem);
  if (opts.token !== undefined) user.token = opts.token;
  const context: Record<string, string> = { cluster: opts.clusterName, user: opts.userName };
  if (opts.namespace) context.namespace = opts.namespace;
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      { name: opts.clusterName, cluster: { 'certificate-authority-data': base64(opts.caCertPem), server: opts.server } },
    ],
    contexts: [{ name: contextName, context }],
    'current-context': contextName,
    preferences: {},
    users: [{ name: opts.userName, user }],
  };
  return new Document(config, YAML_OPTIONS).toString(TO_STRING_OPTIONS);
}

/**
 * Puts the current context of `newYaml` into `existingYaml` with its cluster, user
 * and context all named `contextName` (so two clusters whose admin users share a name
 * do not overwrite each other), replacing entries of that name, keeping every other
 * entry, and making it the current context. `existingYaml` undefined or blank starts
 * an empty config. A file that is not valid YAML is refused, never overwritten.
 */
export function mergeKubeconfig(existingYaml: string | undefined, newYaml: string, contextName: string): string {
  if (!contextName) throw new Error('contextName must not be empty');
  const incoming = selectContext(toConfigObject(newYaml, 'new kubeconfig'), undefined);

  let doc: Document;
  if (existingYaml === undefined || existingYaml.trim() === '') {
    doc = new Document({ apiVersion: 'v1', kind: 'Config', preferences: {} }, YAML_OPTIONS);
  } else {
    doc = parseDocument(existingYaml, YAML_OPTIONS);
    if (doc.errors.length > 0) throw new Error(`existing kubeconfig is not valid YAML: ${doc.errors[0].message}`);
    if (doc.contents === null) doc.contents = doc.createNode({ apiVersion: 'v1', kind: 'Config', preferences: {} });
    if (!isMap(doc.contents)) throw new Error('existing kubeconfig is not a YAML mapping');
  }

  upsertNamed(doc, 'clusters', { name: contextName, cluster: incoming.cluster });
  upsertNamed(doc, 'users', { name: contextName, user: incoming.user });
  const context = { ...incoming.context, cluster: contextName, user: contextName };
  upsertNamed(doc, 'contexts', { name: contextName, context });
  doc.set('current-context', doc.createNode(contextName)); // a fresh scalar: not the old one's quoting
  return doc.toString(TO_STRING_OPTIONS);
}

/** The connection settings of the current context (or `opts.context`). Throws when they cannot be used. */
export function parseKubeconfig(text: string, opts: ParseKubeconfigOptions = {}): KubeconfigCredentials {
  const config = toConfigObject(text, opts.path ?? 'kubeconfig');
  const sel = selectContext(config, opts.context);
  const where = `context ${JSON.stringify(sel.name)}`;
  const baseDir = opts.path ? dirname(resolve(opts.path)) : process.cwd();
  const readRef = (file: unknown): string => readFileSync(resolve(baseDir, String(file)), 'utf8');

  const server = str(sel.cluster.server);
  if (!server) throw new Error(`${where}: cluster ${JSON.stringify(sel.clusterName)} has no server`);
  const user = sel.user;
  for (const unsupported of ['exec', 'auth-provider', 'username', 'password']) {
    if (user[unsupported] !== undefined && user[unsupported] !== null) {
      const who = `${where}: user ${JSON.stringify(sel.userName)}`;
      throw new Error(`${who} uses ${unsupported}, which Skiff's client does not support`);
    }
  }

  const out: KubeconfigCredentials = { contextName: sel.name, server };
  const ca = pem(sel.cluster['certificate-authority-data'], sel.cluster['certificate-authority'], readRef);
  if (ca !== undefined) out.caCertPem = ca;
  const cert = pem(user['client-certificate-data'], user['client-certificate'], readRef);
  if (cert !== undefined) out.clientCertPem = cert;
  const key = pem(user['client-key-data'], user['client-key'], readRef);
  if (key !== undefined) out.clientKeyPem = key;
  if ((cert === undefined) !== (key === undefined)) {
    throw new Error(`${where}: user ${JSON.stringify(sel.userName)} has a client certificate or key but not both`);
  }
  const token = str(user.token) || (user.tokenFile ? readRef(user.tokenFile).trim() : '');
  if (token) out.token = token;
  const namespace = str(sel.context.namespace);
  if (namespace) out.namespace = namespace;
  if (sel.cluster['insecure-skip-tls-verify'] === true) out.insecureSkipTLSVerify = true;
  const tlsServerName = str(sel.cluster['tls-server-name']);
  if (tlsServerName) out.tlsServerName = tlsServerName;
  return out;
}

type Obj = Record<string, unknown>;

interface SelectedContext {
  name: string;
  context: Obj;
  clusterName: string;
  cluster: Obj;
  userName: string;
  user: Obj;
}

function toConfigObject(text: string, what: string): Obj {
  const doc = parseDocument(text, YAML_OPTIONS);
  if (doc.errors.length > 0) throw new Error(`${what} is not valid YAML: ${doc.errors[0].message}`);
  const value: unknown = doc.toJS();
  if (!isObj(value)) throw new Error(`${what} is not a kubeconfig (expected a mapping)`);
  return value;
}

function selectContext(config: Obj, override: string | undefined): SelectedContext {
  const name = override ?? str(config['current-context']);
  if (!name) throw new Error('kubeconfig has no current-context');
  const context = findNamed(config.contexts, name, 'context');
  const clusterName = str(context.cluster);
  const userName = str(context.user);
  const cluster = findNamed(config.clusters, clusterName, 'cluster');
  // A context without a user is valid: anonymous access.
  const user = userName ? findNamed(config.users, userName, 'user') : {};
  return { name, context, clusterName, cluster, userName, user };
}

/** The inner object (`cluster:`, `user:`, `context:`) of the named entry in a kubeconfig list. */
function findNamed(list: unknown, name: string, kind: 'cluster' | 'user' | 'context'): Obj {
  const entry = Array.isArray(list) ? list.find((e) => isObj(e) && str(e.name) === name) : undefined;
  if (!entry) throw new Error(`kubeconfig has no ${kind} named ${JSON.stringify(name)}`);
  const inner = (entry as Obj)[kind];
  return isObj(inner) ? inner : {};
}

/** Replaces the first entry called `entry.name` (dropping later duplicates) or appends it. */
function upsertNamed(doc: Document, key: string, entry: { name: string } & Obj): void {
  let seq = doc.get(key);
  if (!isSeq(seq)) {
    if (seq !== undefined && seq !== null) throw new Error(`existing kubeconfig: ${key} is not a list`);
    seq = doc.createNode([]);
    doc.set(key, seq);
  }
  if (!isSeq(seq)) return; // unreachable: narrows the type
  const node = doc.createNode(entry);
  let placed = false;
  seq.items = seq.items.flatMap((item) => {
    if (!(isMap(item) && str((item as YAMLMap).get('name')) === entry.name)) return [item];
    if (placed) return [];
    placed = true;
    return [node];
  });
  if (!placed) seq.items.push(node);
}

function pem(data: unknown, file: unknown, readRef: (file: unknown) => string): string | undefined {
  if (data) return Buffer.from(String(data), 'base64').toString('utf8');
  if (file) return readRef(file);
  return undefined;
}

function base64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

/** go-yaml reads a scalar into a string field whatever it looks like; so do we. */
function str(v: unknown): string {
  return v === undefined || v === null ? '' : String(v);
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
