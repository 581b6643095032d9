/**
 * C2 — balanced growth (THEORY.md C2; memo: "layers grow in balance").
 *
 * Under gradient flow ρ_k² − ρ_j² is conserved; on separable data every ρ_k → ∞, so
 * ρ_k/ρ_j → 1. Under GD the imbalance drifts only by the η² term of C1. Checked on runs of the
 * flow-following schedule (it reaches large ρ in a few hundred steps) that fit their data:
 *   growth   every layer norm ρ_k increases at every record after L < 1 (exactly true per GD step
 *            once all margins are positive: C1 gives Δρ_k² = 2η Σ −ℓ'(q)q + η²‖G_k‖² > 0), and
 *            ρ at the last step is at least GROWTH × ρ at the half-way step;
 *   balance  every ρ_k² grows by the same amount: D = ρ_k² − ρ_j² changes by at most DRIFT of
 *            the growth of ρ_k² and ρ_j² since fitting, and the imbalance |log(ρ_k/ρ_j)| at the
 *            end is at most half what it was at fitting (plus 1e-3 for runs already balanced).
 * Tolerances: DRIFT = 5% covers the η² drift of the large flow steps (measured ≤ 1%);
 * GROWTH = 1.2 is far below the ~1.5–2× that the flow schedule gives once fitted, and far above
 * the ≤ 1.01× of a run whose norms are bounded.
 *
 * Negative controls: weight decay keeps ρ bounded (no growth); per-layer step sizes
 * η_k = m_k η conserve ρ_k²/m_k − ρ_j²/m_j instead, so ρ_k/ρ_j → √(m_k/m_j) ≠ 1.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { train, type TrainRecord } from '../src/train.js';
import { buildExperiment, gridReal, fittedIndex, geometricSteps, maxRowNormSq, runs, settingArb } from './common.js';

const STEPS = 600;
const GROWTH = 1.2;
const DRIFT = 0.05;

const caseArb = fc.record({
  setting: settingArb({ kinds: ['deep-linear', 'relu'], depth: [2, 3], width: [3, 6], n: [2, 8], d: [2, 4], initScale: [0.5, 1.5] }),
  /** The first layer's initial scale is multiplied by this, so the layers start unbalanced. */
  tilt: fc.oneof(gridReal(0.4, 0.8), gridReal(1.25, 2.5)),
  lrScale: gridReal(0.2, 0.6),
});
type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

interface Control {
  weightDecay?: number;
  layerLr?: number[];
}

function runCase(c: Case, control: Control = {}) {
  const { spec, data, init } = buildExperiment(c.setting);
  init[0] = init[0].map((row) => row.map((v) => v * c.tilt));
  const schedule = control.weightDecay ? 'constant' : 'flow'; // the flow step would rescale the decay
  const { records } = train(data, init, {
    model: spec, loss: 'exp', reduction: 'mean', schedule, lr: c.lrScale / maxRowNormSq(data.X),
    ...control, ...(control.layerLr ? { layerLr: control.layerLr.slice(0, spec.depth) } : {}),
  }, { steps: STEPS, record: geometricSteps(STEPS) });
  return { records, fitted: fittedIndex(records, data.X.length, 'mean', 'exp') };
}

const sq = (r: TrainRecord) => r.layerNorms.map((v) => v * v);
const logImbalance = (r: TrainRecord) => Math.max(...r.layerNorms.map((a) => Math.max(...r.layerNorms.map((b) => Math.abs(Math.log(a / b))))));

/** Growth part of the claim: norms increase after fitting and keep growing. Returns a failure or null. */
function growthFailure(records: TrainRecord[], fitted: number): string | null {
  for (let i = fitted + 1; i < records.length; i++) {
    const k = records[i].layerNorms.findIndex((v, j) => v < records[i - 1].layerNorms[j] * (1 - 1e-6));
    if (k >= 0) return `ρ_${k} decreased from ${records[i - 1].layerNorms[k]} to ${records[i].layerNorms[k]} at step ${records[i].step}`;
  }
  const half = records.find((r) => r.step >= STEPS / 2)!;
  const last = records.at(-1)!;
  if (last.rho < GROWTH * half.rho) return `ρ grew only from ${half.rho} (step ${half.step}) to ${last.rho} (step ${last.step})`;
  return null;
}

/** Balance part: D conserved within DRIFT, imbalance at least halved. Returns a failure or null. */
function balanceFailure(records: TrainRecord[], fitted: number): string | null {
  const a = records[fitted];
  const b = records.at(-1)!;
  const Da = sq(a).slice(1).map((v, j) => sq(a)[j] - v);
  const Db = sq(b).slice(1).map((v, j) => sq(b)[j] - v);
  // Each layer's squared norm grows by the same amount, up to DRIFT of that growth.
  const grew = sq(b).map((v, k) => v - sq(a)[k]);
  const j = Da.findIndex((d, i) => Math.abs(Db[i] - d) > DRIFT * Math.min(grew[i], grew[i + 1]));
  if (j >= 0) return `ρ_${j}² − ρ_${j + 1}² drifted from ${Da[j]} to ${Db[j]} while the squared norms grew by ${grew[j]}, ${grew[j + 1]}`;
  if (logImbalance(b) > 0.5 * logImbalance(a) + 1e-3) return `imbalance |log ρ_k/ρ_j| went from ${logImbalance(a)} only to ${logImbalance(b)}`;
  return null;
}

describe('C2: layers grow in balance', () => {
  test('C2: after L < 1 every layer norm grows and ρ_k/ρ_j → 1 with ρ_k² − ρ_j² conserved', () => {
    let fittedRuns = 0;
    let total = 0;
    fc.assert(
      fc.property(caseArb, (c) => {
        total++;
        const { records, fitted } = runCase(c);
        // Claims hold once the data are fitted; a run stuck on a dead-ReLU plateau says nothing.
        if (fitted < 0 || records[fitted].step > STEPS / 4) return;
        fittedRuns++;
        expect(growthFailure(records, fitted)).toBeNull();
        expect(balanceFailure(records, fitted)).toBeNull();
      }),
      { numRuns: runs(8) },
    );
    // Dead ReLUs (a point no hidden unit sees, q = 0 forever) stop some ReLU runs: at least a
    // third of all runs must count.
    expect(fittedRuns, `only ${fittedRuns} of ${total} runs reached L < 1 in time`).toBeGreaterThanOrEqual(total / 3);
  });
});

describe('N-C2: where balanced growth fails', () => {
  test('N-C2: with weight decay the norms stop growing, and fast-check shrinks the failure small', () => {
    const result = fc.check(
      fc.property(caseArb, (c) => {
        const { records, fitted } = runCase(c, { weightDecay: 0.05 });
        return growthFailure(records, Math.max(fitted, 0)) === null;
      }),
      { numRuns: runs(8) },
    );
    expect(result.failed).toBe(true);
    const s = result.counterexample![0].setting;
    expect(s.n * s.d * s.width).toBeLessThanOrEqual(2 * 2 * 3); // the smallest setting the arbitrary draws
  });

  test('N-C2: with per-layer step sizes ρ_0/ρ_1 tends to √(m_0/m_1), not 1', () => {
    const m = [4, 1, 1];
    let fittedRuns = 0;
    fc.assert(
      fc.property(caseArb, (c) => {
        const { records, fitted } = runCase({ ...c, setting: { ...c.setting, depth: 2 } }, { layerLr: m });
        if (fitted < 0 || records[fitted].step > STEPS / 4) return;
        fittedRuns++;
        const last = records.at(-1)!;
        const predicted = 0.5 * Math.log(m[0] / m[1]);
        const observed = Math.log(last.layerNorms[0] / last.layerNorms[1]);
        const start = Math.log(records[fitted].layerNorms[0] / records[fitted].layerNorms[1]);
        // The log-ratio moves towards the predicted limit, away from the balanced 0, and ends nearer it.
        expect(Math.abs(observed - predicted)).toBeLessThan(Math.abs(start - predicted) + 1e-9);
        expect(Math.abs(observed - predicted)).toBeLessThan(Math.abs(observed));
      }),
      { numRuns: runs(6) },
    );
    expect(fittedRuns).toBeGreaterThan(0);
  });
});
