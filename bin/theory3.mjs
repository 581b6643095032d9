#!/usr/bin/env node
// The `theory3` command: the command line is TypeScript (src/cli.ts), run through tsx's ESM
// loader, which is a dependency, so `npx theory3 …` works after `npm ci` with no build step.
import { register } from 'tsx/esm/api';

register();
await import(new URL('../src/cli.ts', import.meta.url).href);
