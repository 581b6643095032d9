import type { TopLevelSpec } from 'vega-lite';
import { renderSvg } from '../plot.js';
import type { TrainRecord } from '../train.js';
import type { GapSet, ImageSet, RunData, ScatterSet, Trajectory } from './data.js';
import { angleFit, C3_RATE, degree, lateHalf, lateRecords, lossClock, rhoSlope } from './figures.js';
import { fitInverseSqrt, fitLine } from './fit.js';
import { escapeHtml } from './format.js';
import { grayPngDataUri } from './png.js';

/**
 * Every plot shows the data with what theory predicts for it (a fitted line, a predicted slope, a
 * band, a bound), drawn as one vega-lite chart per plot and rendered to SVG in Node. The plots of
 * a claim follow from the data its properties leave: any trajectory gets the views its records
 * support, any gap set gets the gap-against-N view.
 */
export interface Plot {
  /** The claim it belongs to (C<k>) and the data set it comes from. */
  claim: string;
  source: string;
  title: string;
  svg: string;
}

type Row = Record<string, number | string>;
type Layer = Record<string, unknown>;
const WIDTH = 320;
const HEIGHT = 210;
const q = (field: string, title: string, extra: object = {}) => ({ field, type: 'quantitative' as const, title, ...extra });
const color = { field: 'series', type: 'nominal' as const, title: null, legend: { orient: 'bottom' as const, columns: 1, labelLimit: 0 } };

function chart(title: string, layers: Layer[]): TopLevelSpec {
  return { title: { text: title, fontSize: 13 }, width: WIDTH, height: HEIGHT, layer: layers, config: { axis: { titleFontSize: 11 } } } as unknown as TopLevelSpec;
}

const line = (rows: Row[], x: object, y: object, opts: { dash?: boolean; points?: boolean } = {}): Layer => ({
  data: { values: rows },
  mark: { type: 'line', point: opts.points ?? false, ...(opts.dash ? { strokeDash: [6, 4] } : {}) },
  encoding: { x, y, color },
});

/** A straight line y = a + b·x over [x0, x1], as a two-point series. */
const segment = (series: string, x0: number, x1: number, f: (x: number) => number, xf: string, yf: string): Row[] => [
  { [xf]: x0, [yf]: f(x0), series },
  { [xf]: x1, [yf]: f(x1), series },
];

const LOG_T = 'log t   (t = flow time Σ η_s, dimensionless)';

function rhoPlot(t: Trajectory, records: TrainRecord[]): TopLevelSpec | null {
  const timed = records.filter((r) => Number.isFinite(r.logFlowTime) && r.logFlowTime > 0);
  if (timed.length < 3) return null;
  const K = degree(records);
  const name = K === 1 ? '‖w‖' : 'ρ = ∏ ρ_k';
  const rows: Row[] = timed.map((r) => ({ logt: r.logFlowTime, rho: r.rho, series: `${name} (data)` }));
  const fit = rhoSlope(records);
  const half = lateHalf(records);
  const x0 = half[0]?.logFlowTime ?? timed[0].logFlowTime;
  const x1 = timed.at(-1)!.logFlowTime;
  if (fit) rows.push(...segment(`fitted slope ${fit.b.toPrecision(3)}`, x0, x1, (x) => fit.a + fit.b * x, 'logt', 'rho'));
  const g = t.figures.gammaStar;
  if (g && K === 1) {
    const last = timed.at(-1)!;
    rows.push(...segment(`theory: slope 1/γ* = ${(1 / g).toPrecision(3)}`, x0, x1, (x) => last.rho + (x - last.logFlowTime) / g, 'logt', 'rho'));
  }
  return chart(`${name} against log t`, [line(rows, q('logt', LOG_T), q('rho', `${name} (weight norm)`), { points: timed.length < 40 })]);
}

function lossRatePlot(records: TrainRecord[]): TopLevelSpec | null {
  const late = lateRecords(records);
  const K = degree(records);
  if (late.length < 3) return null;
  const rows: Row[] = late.map((r) => ({ clock: lossClock(r, K), nll: -r.logLoss, series: '−log L (data)' }));
  const a = late[0];
  const x0 = lossClock(a, K);
  const x1 = lossClock(late.at(-1)!, K);
  const band = [
    { clock: x0, lo: -a.logLoss, hi: -a.logLoss },
    { clock: x1, lo: -a.logLoss + (1 - C3_RATE) * (x1 - x0), hi: -a.logLoss + (1 + C3_RATE) * (x1 - x0) },
  ].map((r) => ({ ...r, series: `theory: slope 1 ± ${C3_RATE}` }));
  const half = lateHalf(records);
  if (half.length >= 2) {
    const s = (half[0].logLoss - half.at(-1)!.logLoss) / (lossClock(half.at(-1)!, K) - lossClock(half[0], K));
    rows.push(...segment(`measured late slope ${s.toPrecision(3)}`, lossClock(half[0], K), x1, (x) => -half[0].logLoss + s * (x - lossClock(half[0], K)), 'clock', 'nll'));
  }
  return chart('loss rate once L < 1', [
    { data: { values: band }, mark: { type: 'area', opacity: 0.25 }, encoding: { x: q('clock', ''), y: q('lo', ''), y2: { field: 'hi' }, color } },
    line(rows, q('clock', `log t + (2 − 2/K) log log t   (K = ${K})`), q('nll', '−log L  (L: training loss)'), { points: late.length < 40 }),
  ]);
}

function marginPlot(t: Trajectory, records: TrainRecord[]): TopLevelSpec | null {
  const timed = records.filter((r) => Number.isFinite(r.logFlowTime) && r.logFlowTime > 0 && Number.isFinite(r.smoothedMargin));
  if (timed.length < 3) return null;
  const K = degree(records);
  const rows: Row[] = timed.flatMap((r) => [
    { logt: r.logFlowTime, m: r.smoothedMargin, series: 'γ̃ smoothed (data)' },
    { logt: r.logFlowTime, m: r.normalizedMargin, series: 'γ̄ normalized (data)' },
  ]);
  const g = t.figures.gammaStar;
  if (g) {
    // A balanced deep linear net reaches γ*/K^{K/2} in the normalization by ‖θ‖^K.
    const target = g / K ** (K / 2);
    rows.push(...segment(K === 1 ? `theory: γ* = ${g.toPrecision(3)} (SVM)` : `theory: γ*/K^{K/2} = ${target.toPrecision(3)}`, timed[0].logFlowTime, timed.at(-1)!.logFlowTime, () => target, 'logt', 'm'));
  } else {
    // Without the SVM the prediction is monotonicity once L < 1: the running maximum of γ̃ from the fit on.
    const fitted = timed.findIndex((r) => r.logLoss < 0);
    if (fitted >= 0) {
      let best = -Infinity;
      for (const r of timed.slice(fitted)) rows.push({ logt: r.logFlowTime, m: (best = Math.max(best, r.smoothedMargin)), series: 'theory: γ̃ non-decreasing after L < 1' });
    }
  }
  return chart('margins against log t', [line(rows, q('logt', LOG_T), q('m', `margin / ‖θ‖^K   (K = ${K})`))]);
}

function anglePlot(records: TrainRecord[]): TopLevelSpec | null {
  const pts = records.filter((r) => typeof r.angleToSvm === 'number' && r.logFlowTime > 1);
  if (pts.length < 3) return null;
  const rows: Row[] = pts.map((r) => ({ inv: 1 / r.logFlowTime, angle: r.angleToSvm as number, series: 'angle to the SVM (data)' }));
  const fit = angleFit(records);
  if (fit) {
    const xs = rows.map((r) => r.inv as number);
    rows.push(...segment(`fit a + b/log t, b = ${fit.b.toPrecision(3)}`, 0, Math.max(...xs), (x) => fit.a + fit.b * x, 'inv', 'angle'));
  }
  return chart('angle to the SVM against 1/log t (theory: O(1/log t))', [line(rows, q('inv', '1 / log t'), q('angle', 'angle (rad)'), { points: pts.length < 40 })]);
}

/** The KKT residuals a real-data network run records (src/real/net-run.ts), against the step. */
function kktPlot(records: TrainRecord[]): TopLevelSpec | null {
  const rows: Row[] = records.flatMap((r) =>
    (['slackness', 'stationarityGap'] as const)
      .filter((k) => typeof r[k] === 'number' && Number.isFinite(r[k]) && (r[k] as number) > 0)
      .map((k) => ({ step: r.step, v: r[k] as number, series: k === 'slackness' ? 'complementary slackness Σ α_n (q_n/q_min − 1)' : 'stationarity gap 1 − cos(θ, −∇log L), per step' })),
  );
  if (rows.length < 4) return null;
  return chart('KKT residuals against step (theory: → 0)', [line(rows, q('step', 'step (kept loss-based steps)'), q('v', 'residual', { scale: { type: 'log' } }), { points: records.length < 40 })]);
}

function balancePlot(records: TrainRecord[]): TopLevelSpec | null {
  if ((records[0]?.layerNorms.length ?? 0) < 2) return null;
  const rows: Row[] = records.map((r) => ({ step: r.step, ratio: Math.max(...r.layerNorms) / Math.min(...r.layerNorms), series: 'ρ_max/ρ_min (data)' }));
  rows.push(...segment('theory: → 1 (balanced layers)', records[0].step, records.at(-1)!.step, () => 1, 'step', 'ratio'));
  return chart('layer balance against step', [line(rows, q('step', 'step (GD iterations)'), q('ratio', 'ρ_max / ρ_min'), { points: records.length < 40 })]);
}

function gapPlot(g: GapSet): TopLevelSpec | null {
  if (g.points.length === 0 || !g.points.every((p) => p.gap > 0)) return null;
  const ns = g.points.map((p) => p.n);
  const lo = Math.min(...ns);
  const hi = Math.max(...ns);
  const rows: Row[] = g.points.map((p) => ({ n: p.n, gap: p.gap, series: `${p.which} (mean)` }));
  const bars = g.points.filter((p) => p.lower !== undefined && p.upper !== undefined).map((p) => ({ n: p.n, lo: Math.max(p.lower!, 1e-6), hi: p.upper!, series: `${p.which} (mean)` }));
  for (const which of [...new Set(g.points.map((p) => p.which))]) {
    const c = fitInverseSqrt(g.points.filter((p) => p.which === which).map((p) => ({ n: p.n, y: p.gap })));
    if (c) rows.push(...[lo, Math.sqrt(lo * hi), hi].map((n) => ({ n, gap: c / Math.sqrt(n), series: `fit c/√N, c = ${c.toPrecision(3)} (${which})` })));
  }
  const bounds = g.points.filter((p) => p.bound);
  rows.push(...bounds.map((p) => ({ n: p.n, gap: p.bound!, series: 'Rademacher bound + Hoeffding' })));
  const layers: Layer[] = [line(rows, q('n', 'N (training examples)', { scale: { type: 'log' } }), q('gap', 'test − train (normalized network)', { scale: { type: 'log' } }), { points: true })];
  if (bars.length) layers.push({ data: { values: bars }, mark: { type: 'rule', strokeWidth: 2 }, encoding: { x: q('n', ''), y: q('lo', ''), y2: { field: 'hi' }, color } });
  return chart('generalization gap against N (95% intervals)', layers);
}

/** Points in series with the least-squares line through all of them, its slope and R² in the legend. */
export function scatterSpec(s: ScatterSet): TopLevelSpec | null {
  if (s.points.length < 2) return null;
  const rows: Row[] = s.points.map((p) => ({ x: p.x, y: p.y, series: p.series }));
  const layers: Layer[] = [{ data: { values: rows }, mark: { type: 'point', filled: true, size: 50 }, encoding: { x: q('x', s.xTitle, { scale: { zero: false } }), y: q('y', s.yTitle, { scale: { zero: false } }), color } }];
  const fit = fitLine(s.points);
  if (fit) {
    const my = s.points.reduce((t, p) => t + p.y, 0) / s.points.length;
    const ssTot = s.points.reduce((t, p) => t + (p.y - my) ** 2, 0);
    const ssRes = s.points.reduce((t, p) => t + (p.y - fit.a - fit.b * p.x) ** 2, 0);
    const xs = s.points.map((p) => p.x);
    const label = `least squares: slope ${fit.b.toPrecision(3)}, R² = ${(1 - ssRes / ssTot).toPrecision(3)}`;
    layers.push(line(segment(label, Math.min(...xs), Math.max(...xs), (x) => fit.a + fit.b * x, 'x', 'y'), q('x', ''), q('y', ''), { dash: true }));
  }
  return chart(s.title, layers);
}

const TILE = 56;
const CAPTION = 30;
/** Images as a grid of inline PNG tiles with their captions, one SVG (no vega: nothing to plot). */
export function imagesSvg(set: ImageSet): string {
  const [h, w] = set.shape;
  const cols = Math.min(set.images.length, 4);
  const rows = Math.ceil(set.images.length / cols);
  const cellW = 150;
  const width = cols * cellW;
  const height = 28 + rows * (TILE + CAPTION);
  const tiles = set.images.map((im, i) => {
    const x = (i % cols) * cellW;
    const y = 28 + Math.floor(i / cols) * (TILE + CAPTION);
    return `<image x="${x + (cellW - TILE) / 2}" y="${y}" width="${TILE}" height="${TILE}" style="image-rendering:pixelated" href="${grayPngDataUri(im.pixels, w, h)}"/>` +
      `<text x="${x + cellW / 2}" y="${y + TILE + 14}" font-size="10" text-anchor="middle">${escapeHtml(im.caption)}</text>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img"><title>${escapeHtml(set.title)}</title>` +
    `<text x="0" y="16" font-size="12" font-weight="bold">${escapeHtml(set.title.length > 90 ? set.title.slice(0, 87) + '…' : set.title)}</text>${tiles.join('')}</svg>`;
}

/** γ̃ and log L against the step, with the step from which L < 1 (where the claims apply): every run has this view, however short. */
export function stepSpec(records: TrainRecord[]): TopLevelSpec | null {
  const rows: Row[] = records
    .filter((r) => Number.isFinite(r.smoothedMargin) && Number.isFinite(r.logLoss))
    .flatMap((r) => [
      { step: r.step, v: r.smoothedMargin, series: 'γ̃ smoothed margin' },
      { step: r.step, v: r.logLoss, series: 'log L' },
    ]);
  if (rows.length < 4) return null;
  const fitted = records.find((r) => r.logLoss < 0);
  const layers: Layer[] = [line(rows, q('step', 'step (GD iterations)'), q('v', 'γ̃  and  log L'), { points: records.length < 40 })];
  if (fitted) layers.push({ data: { values: [{ step: fitted.step, series: 'theory: claims apply from L < 1' }] }, mark: { type: 'rule', strokeDash: [4, 3] }, encoding: { x: q('step', ''), color } });
  return chart('the run against the step', layers);
}

export function trajectorySpecs(t: Trajectory): TopLevelSpec[] {
  const records = t.records.filter((r) => Number.isFinite(r.rho));
  return [rhoPlot(t, records), lossRatePlot(records), marginPlot(t, records), anglePlot(records), balancePlot(records), kktPlot(records)].filter((s): s is TopLevelSpec => s !== null);
}

async function render(claim: string, source: string, specs: TopLevelSpec[]): Promise<Plot[]> {
  const out: Plot[] = [];
  for (const spec of specs) out.push({ claim, source, title: String((spec as { title: { text: string } }).title.text), svg: await renderSvg(spec) });
  return out;
}

/** Every plot of a run's data, by claim. */
export async function plotsOf(data: RunData): Promise<Plot[]> {
  const out: Plot[] = [];
  for (const t of data.trajectories) out.push(...(await render(t.id.split('-')[0], t.id, trajectorySpecs(t))));
  for (const g of data.gaps) {
    const spec = gapPlot(g);
    if (spec) out.push(...(await render(g.id.split('-')[0], g.id, [spec])));
  }
  for (const s of data.scatters) {
    const spec = scatterSpec(s);
    if (spec) out.push(...(await render(s.id.split('-')[0], s.id, [spec])));
  }
  for (const set of data.images) out.push({ claim: set.id.split('-')[0], source: set.id, title: set.title, svg: imagesSvg(set) });
  return out;
}
