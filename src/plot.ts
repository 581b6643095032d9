import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { TrainRecord } from './train.js';

/**
 * Plots as SVG, rendered in Node by vega-lite + vega (no browser). Each chart is a small
 * vega-lite spec; `trajectoryCharts` draws the standard views of a training run.
 */

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

type Row = Record<string, number | string>;

function line(title: string, values: Row[], x: { field: string; title: string; log?: boolean }, y: { field: string; title: string; log?: boolean }, color?: string) {
  return {
    title,
    width: 300,
    height: 200,
    data: { values },
    mark: { type: 'line' as const, point: values.length < 60 },
    encoding: {
      x: { field: x.field, type: 'quantitative' as const, title: x.title, ...(x.log ? { scale: { type: 'log' as const } } : {}) },
      y: { field: y.field, type: 'quantitative' as const, title: y.title, ...(y.log ? { scale: { type: 'log' as const } } : {}) },
      ...(color ? { color: { field: color, type: 'nominal' as const, title: null } } : {}),
    },
  };
}

/**
 * ρ against log t; γ̃ and γ̄ against t; the angle to the SVM against 1/log t (when recorded);
 * the layer imbalance ρ_k² − ρ_{k+1}² against the step.
 */
export function trajectoryCharts(records: TrainRecord[], title: string): TopLevelSpec {
  const timed = records.filter((r) => Number.isFinite(r.logFlowTime));
  const charts: object[] = [
    line('ρ against log t', timed.map((r) => ({ logt: r.logFlowTime, rho: r.rho })), { field: 'logt', title: 'log t (flow time)' }, { field: 'rho', title: 'ρ = ∏ ρ_k' }),
    line(
      'margins against t',
      timed.flatMap((r) => [
        { logt: r.logFlowTime, margin: r.smoothedMargin, which: 'γ̃ smoothed' },
        { logt: r.logFlowTime, margin: r.normalizedMargin, which: 'γ̄ normalized' },
      ]),
      { field: 'logt', title: 'log t' },
      { field: 'margin', title: 'margin / ‖θ‖^K' },
      'which',
    ),
  ];
  const angled = timed.filter((r) => typeof r.angleToSvm === 'number' && r.logFlowTime > 0);
  if (angled.length > 1) {
    charts.push(line('angle to the SVM against 1/log t', angled.map((r) => ({ inv: 1 / r.logFlowTime, angle: r.angleToSvm as number })), { field: 'inv', title: '1 / log t' }, { field: 'angle', title: 'angle (rad)' }));
  }
  if (records[0].layerNorms.length > 1) {
    charts.push(
      line(
        'layer imbalance',
        records.flatMap((r) => r.layerNorms.slice(1).map((v, k) => ({ step: r.step, d: r.layerNorms[k] ** 2 - v ** 2, pair: `ρ_${k}² − ρ_${k + 1}²` }))),
        { field: 'step', title: 'step' },
        { field: 'd', title: 'imbalance' },
        'pair',
      ),
    );
  }
  return { title, columns: 2, concat: charts, resolve: { scale: { color: 'independent' } } } as unknown as TopLevelSpec;
}

/** Mean generalization gap against N on log–log axes. */
export function gapChart(points: { n: number; gap: number; which: string }[], title: string): TopLevelSpec {
  return { ...line(title, points, { field: 'n', title: 'N', log: true }, { field: 'gap', title: 'test − train', log: true }, 'which') } as unknown as TopLevelSpec;
}
