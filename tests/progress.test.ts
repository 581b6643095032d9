/** train's progress bar: drawn on a terminal, absent otherwise (piped stderr stays clean). */
import { Writable } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { trainProgress } from '../src/cli/progress.js';

function fakeStream(isTTY: boolean): { stream: NodeJS.WriteStream; written: () => string } {
  let text = '';
  const w = new Writable({ write(chunk, _enc, done) { text += String(chunk); done(); } }) as unknown as NodeJS.WriteStream;
  Object.assign(w, { isTTY, columns: 100, rows: 30 });
  return { stream: w, written: () => text };
}

describe('trainProgress', () => {
  test('not a terminal: no hook, nothing written', () => {
    const { stream, written } = fakeStream(false);
    const p = trainProgress(1000, stream);
    expect(p.onStep).toBeUndefined();
    p.done();
    expect(written()).toBe('');
  });

  test('a terminal: the bar is drawn with the step count', () => {
    const { stream, written } = fakeStream(true);
    const p = trainProgress(1000, stream);
    expect(p.onStep).toBeTypeOf('function');
    p.onStep!(500);
    p.done();
    expect(written()).toContain('theory3 train [');
    expect(written()).toContain('/1000');
  });
});
