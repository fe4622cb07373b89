// Duplicate keys in a JSON body, which JSON.parse silently collapses (last one wins)
// but upstream's strict decoder reports: `duplicate field "spec.replicas"`, with the
// same path syntax as unknown fields (`spec.containers[0].name`).

/**
 * Paths of keys that occur twice in the same object of `text`, in document order.
 * `text` must be valid JSON (call after JSON.parse succeeded). Capped at `limit`.
 */
export function duplicateFields(text: string, limit = 100): string[] {
  const out: string[] = [];
  let i = 0;
  const n = text.length;

  const skipWs = () => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 32 || c === 9 || c === 10 || c === 13) i++;
      else break;
    }
  };
  const readString = (): string => {
    const start = i;
    i++; // opening quote
    let escaped = false;
    while (i < n) {
      const c = text[i];
      if (c === '\\') {
        escaped = true;
        i += 2;
        continue;
      }
      if (c === '"') break;
      i++;
    }
    i++; // closing quote
    const raw = text.slice(start, i);
    return escaped ? (JSON.parse(raw) as string) : raw.slice(1, -1);
  };
  const value = (path: string): void => {
    skipWs();
    const c = text[i];
    if (c === '{') object(path);
    else if (c === '[') array(path);
    else if (c === '"') readString();
    else {
      while (i < n && !',}] \t\r\n'.includes(text[i])) i++;
    }
  };
  const object = (path: string): void => {
    i++; // {
    const seen = new Set<string>();
    skipWs();
    if (text[i] === '}') {
      i++;
      return;
    }
    for (;;) {
      skipWs();
      const key = readString();
      const p = path ? `${path}.${key}` : key;
      if (seen.has(key)) {
        if (out.length < limit) out.push(p);
      } else seen.add(key);
      skipWs();
      i++; // :
      value(p);
      skipWs();
      if (text[i] === ',') {
        i++;
        continue;
      }
      i++; // }
      return;
    }
  };
  const array = (path: string): void => {
    i++; // [
    skipWs();
    if (text[i] === ']') {
      i++;
      return;
    }
    for (let idx = 0; ; idx++) {
      value(`${path}[${idx}]`);
      skipWs();
      if (text[i] === ',') {
        i++;
        continue;
      }
      i++; // ]
      return;
    }
  };
  value('');
  return out;
}
