import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { afterAll, describe, expect, test } from 'vitest';
import { readRunData } from '../src/report/data.js';
import { reportHtml } from '../src/report/html.js';
import { buildReport } from '../src/report/model.js';
import { plotsOf } from '../src/report/plots.js';
import { grayPngDataUri } from '../src/report/png.js';

const dir = mkdtempSync(join(tmpdir(), 'theory3-report-gen-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Decodes the grayscale PNG that grayPngDataUri writes (8-bit, filter 0 on every row). */
function decode(uri: string): { width: number; height: number; rows: number[][] } {
  const png = Buffer.from(uri.replace('data:image/png;base64,', ''), 'base64');
  expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const width = png.readUInt32BE(16);
  const height = png.readUInt32BE(20);
  const idatLength = png.readUInt32BE(33);
  expect(png.subarray(37, 41).toString('latin1')).toBe('IDAT');
  const raw = inflateSync(png.subarray(41, 41 + idatLength));
  const rows = Array.from({ length: height }, (_, r) => {
    expect(raw[r * (width + 1)]).toBe(0);
    return [...raw.subarray(r * (width + 1) + 1, (r + 1) * (width + 1))];
  });
  return { width, height, rows };
}

describe('the real-data generalization pieces of the report', () => {
  test('an image becomes a PNG of its size, ink dark on white, scaled to its largest pixel', () => {
    const pixels = [0, 0.5, 1, 0.25, 0, 0];
    const { width, height, rows } = decode(grayPngDataUri(pixels, 3, 2));
    expect([width, height]).toEqual([3, 2]);
    expect(rows).toEqual([[255, 128, 0], [191, 255, 255]]);
    // a scaled image draws the same (real images arrive at unit norm)
    expect(grayPngDataUri(pixels.map((v) => v * 0.1), 3, 2)).toBe(grayPngDataUri(pixels, 3, 2));
    expect(() => grayPngDataUri(pixels, 2, 2)).toThrow(/6 pixels are not a 2×2 image/);
  });

  test('the gap against N with intervals, the Memo 091 scatter with its line, and the support-vector images go to claim R', async () => {
    const data = join(dir, 'data');
    mkdirSync(data, { recursive: true });
    const title = 'R: C7 trouser/bag';
    writeFileSync(join(data, 'tests.jsonl'), JSON.stringify({ title, file: 'x', cases: 0, skipped: 0, shrinks: 0, steps: 0, trainings: 0, maxRho: null, maxLogT: null, replicates: 6, checks: 0, storeRuns: [], figures: [] }) + '\n');
    writeFileSync(join(data, 'gaps-R-C7-1-8.json'), JSON.stringify({ id: 'R-C7-1-8', test: title, points: [
      { n: 250, gap: 4e-4, which: 'normalized loss gap', lower: 3e-4, upper: 5e-4, bound: 0.6 },
      { n: 4000, gap: 2e-4, which: 'normalized loss gap', lower: 1.5e-4, upper: 2.5e-4, bound: 0.19 },
    ] }));
    // points on y = 1 + 2x exactly, but one 1.5 above: R² clearly below 1
    const points = [0, 1, 2, 3].map((x) => ({ x, y: 1 + 2 * x + (x === 3 ? 1.5 : 0), series: `${x * 10}% labels flipped` }));
    writeFileSync(join(data, 'scatter-R-memo091.json'), JSON.stringify({ id: 'R-memo091', test: title, title: 'Memo 091: normalized test loss against normalized train loss', xTitle: 'train', yTitle: 'test', points }));
    const img = Array.from({ length: 784 }, (_, i) => (i % 29 === 0 ? 1 : 0));
    writeFileSync(join(data, 'images-R-C7-sv-net.json'), JSON.stringify({ id: 'R-C7-sv-net', test: title, title: 'smallest normalized margins', shape: [28, 28], images: [{ pixels: img, caption: 'bag, q̄ = 1e-3' }, { pixels: img, caption: 'trouser <&>' }] }));

    const run = readRunData([data], dir);
    expect([run.gaps.length, run.scatters.length, run.images.length]).toEqual([1, 1, 1]);
    const plots = await plotsOf(run);
    expect(plots.map((p) => [p.claim, p.title])).toEqual([
      ['R', 'generalization gap against N (95% intervals)'],
      ['R', 'Memo 091: normalized test loss against normalized train loss'],
      ['R', 'smallest normalized margins'],
    ]);
    expect(plots[0].svg).toContain('Rademacher bound');
    // the fitted line's legend: slope of the least-squares line and R² computed from the points
    const mx = 1.5;
    const my = points.reduce((t, p) => t + p.y, 0) / 4;
    const sxy = points.reduce((t, p) => t + (p.x - mx) * (p.y - my), 0);
    const syy = points.reduce((t, p) => t + (p.y - my) ** 2, 0);
    const slope = sxy / 5; // Σ(x − x̄)² = 5
    expect(plots[1].svg).toContain(`slope ${slope.toPrecision(3)}, R² = ${((sxy * sxy) / (5 * syy)).toPrecision(3)}`);
    const tiles = plots[2].svg.match(/<image [^>]*href="data:image\/png;base64,[^"]+"/g) ?? [];
    expect(tiles).toHaveLength(2);
    expect(plots[2].svg).toContain('trouser &lt;&amp;&gt;');
    expect(decode(tiles[0]!.match(/href="([^"]+)"/)![1]!).width).toBe(28);

    const report = buildReport([{ title, status: 'passed', seconds: 1 }], run, { profile: 'real', seeds: [1], backend: 'wasm', shards: 1, seconds: 1 });
    const html = reportHtml(report, plots);
    expect(html).toMatch(/<section id="R">[\s\S]*data:image\/png;base64,/);
    expect(html).not.toMatch(/\b(src|href)="(https?:)?\/\//);
  });
});
