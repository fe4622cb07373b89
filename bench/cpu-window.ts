// Preloaded into a process the idle bench measures (`node --import bench/cpu-window.ts`):
// SIGUSR2 starts the V8 CPU profiler, the next SIGUSR2 stops it and writes the profile to
// $SKIFF_CPU_WINDOW_PROFILE, so a profile covers the measured window only (no startup).

import { Session } from 'node:inspector/promises';
import { writeFileSync } from 'node:fs';

const out = process.env.SKIFF_CPU_WINDOW_PROFILE;
if (out) {
  const session = new Session();
  session.connect();
  let running = false;
  process.on('SIGUSR2', () => {
    void (async () => {
      if (!running) {
        running = true;
        await session.post('Profiler.enable');
        await session.post('Profiler.start');
        return;
      }
      running = false;
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(out, JSON.stringify(profile));
      process.stderr.write(`cpu-window: wrote ${out}\n`);
    })();
  });
}
