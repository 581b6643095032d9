// Entry of the worker thread of WorkerShard: registers tsx's loader (a worker does not inherit
// the parent's), then runs the TypeScript worker.
import { register } from 'tsx/esm/api';

register();
await import('./shard-worker.ts');
