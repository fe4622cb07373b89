// Preloaded into a process the idle bench measures (`node --import bench/cpu-window.ts`):
// SIGUSR2 starts a profiler, the next SIGUSR2 stops it and writes the profile, so a profile
// covers the measured window only (no startup).
//   SKIFF_CPU_WINDOW_PROFILE=<file>   the V8 CPU profiler (.cpuprofile)
//   SKIFF_HEAP_WINDOW_PROFILE=<file>  the sampling heap profiler (.heapprofile), counting
//                                     objects the GC has already collected too, so it shows
//                                     where the window allocated, not only what survived.

import { Session } from 'node:inspector/promises';
import { writeFileSync } from 'node:fs';

const cpuOut = process.env.SKIFF_CPU_WINDOW_PROFILE;
const heapOut = process.env.SKIFF_HEAP_WINDOW_PROFILE;
if (cpuOut || heapOut) {
  const session = new Session();
  session.connect();
  let running = false;
  process.on('SIGUSR2', () => {
    void (async () => {
      if (!running) {
        running = true;
        if (cpuOut) {
          await session.post('Profiler.enable');
          await session.post('Profiler.start');
        }
        if (heapOut) {
          await session.post('HeapProfiler.enable');
          await session.post('HeapProfiler.startSampling', {
            samplingInterval: 4096,
            includeObjectsCollectedByMajorGC: true,
            includeObjectsCollectedByMinorGC: true,
          } as any);
        }
        return;
      }
      running = false;
      if (cpuOut) {
        const { profile } = await session.post('Profiler.stop');
        writeFileSync(cpuOut, JSON.stringify(profile));
        process.stderr.write(`cpu-window: wrote ${cpuOut}\n`);
      }
      if (heapOut) {
        const { profile } = await session.post('HeapProfiler.stopSampling');
        writeFileSync(heapOut, JSON.stringify(profile));
        process.stderr.write(`cpu-window: wrote ${heapOut}\n`);
      }
    })();
  });
}
