// Structured log lines (logfmt) on stderr: `time=... level=info component=apiserver msg="..." k=v`.

export type Logger = (msg: string, fields?: Record<string, unknown>) => void;

function value(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return /^[\w.:/@-]+$/.test(s ?? '') ? s : JSON.stringify(s);
}

export function createLogger(component: string, out: (line: string) => void = (l) => process.stderr.write(l + '\n')): Logger {
  return (msg, fields = {}) => {
    const level = 'error' in fields ? 'error' : 'info';
    let line = `time=${new Date().toISOString()} level=${level} component=${component} msg=${JSON.stringify(msg)}`;
    for (const [k, v] of Object.entries(fields)) line += ` ${k}=${value(v)}`;
    out(line);
  };
}
