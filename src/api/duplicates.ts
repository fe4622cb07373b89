// Duplicate keys in a JSON body, which JSON.parse silently collapses (last one wins)
// but upstream's strict decoder reports: `duplicate field "spec.replicas"`, with the
// same path syntax as unknown fields (`spec.containers[0].name`).
//
// Every write body goes through this scan, so it allocates little: string values are
// skipped without being copied, and a path is spelled out only for a duplicate.

/**
 * Paths of keys that occur twice in the same object of `text`, in document order.
 * `text` must be valid JSON (call after JSON.parse succeeded). Capped at `limit`.
 */
export function duplicateFields(text: string, limit = 100): string[] {
  const out: string[] = [];
  let i = 0;
  const n = text.length;
  // The path to the value being read: object keys (as strings) and array indexes (as numbers).
  const path: (string | number)[] = [];
  const spell = (): string => {
    let s = '';
    for (const seg of path) s += typeof seg === 'number' ? `[${seg}]` : s ? `.${seg}` : seg;
    return s;
  };

  const skipWs = () => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 32 || c === 9 || c === 10 || c === 13) i++;
      else break;
    }
  };
  /** Moves past the string at i; returns whether it holds an escape. */
  const skipString = (): boolean => {
    const start = i + 1;
    let end = text.indexOf('"', start);
    const slash = text.indexOf('\\', start);
    if (slash < 0 || slash > end) {
      i = end + 1;
      return false;
    }
    // An escape before the closing quote: walk it character by character.
    i = start;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 92) i += 2;
      else if (c === 34) break;
      else i++;
    }
    end = i;
    i++;
    return true;
  };
  const readKey = (): string => {
    const start = i;
    const escaped = skipString();
    return escaped ? (JSON.parse(text.slice(start, i)) as string) : text.slice(start + 1, i - 1);
  };
  const value = (): void => {
    skipWs();
    const c = text.charCodeAt(i);
    if (c === 123) object();
    else if (c === 91) array();
    else if (c === 34) skipString();
    else {
      while (i < n) {
        const d = text.charCodeAt(i);
        // , } ] and whitespace end a number or literal.
        if (d === 44 || d === 125 || d === 93 || d === 32 || d === 9 || d === 10 || d === 13) break;
        i++;
      }
    }
  };
  const object = (): void => {
    i++; // {
    skipWs();
    if (text.charCodeAt(i) === 125) {
      i++;
      return;
    }
    let seen: Set<string> | undefined;
    let first: string | undefined;
    for (;;) {
      skipWs();
      const key = readKey();
      let dup = false;
      if (first === undefined) first = key;
      else {
        if (!seen) seen = new Set([first]);
        if (seen.has(key)) dup = true;
        else seen.add(key);
      }
      path.push(key);
      if (dup && out.length < limit) out.push(spell());
      skipWs();
      i++; // :
      value();
      path.pop();
      skipWs();
      if (text.charCodeAt(i) === 44) {
        i++;
        continue;
      }
      i++; // }
      return;
    }
  };
  const array = (): void => {
    i++; // [
    skipWs();
    if (text.charCodeAt(i) === 93) {
      i++;
      return;
    }
    for (let idx = 0; ; idx++) {
      path.push(idx);
      value();
      path.pop();
      skipWs();
      if (text.charCodeAt(i) === 44) {
        i++;
        continue;
      }
      i++; // ]
      return;
    }
  };
  value();
  return out;
}
