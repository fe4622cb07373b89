#!/usr/bin/env node
// Entry point for `npx skiff`: Node 24 runs the TypeScript sources directly.
import '../src/cli/main.ts';
