/**
 * C1 — exact per-step balance identities (docs/THEORY.md C1, derived from the Euler identity
 * ⟨W_k, ∇_{W_k} f⟩ = f; per neuron: Du, Hu & Lee 2018).
 *
 * One GD step W_k⁺ = W_k − ηG_k changes ‖W_k‖² by −2η⟨W_k,G_k⟩ + η²‖G_k‖², and ⟨W_k,G_k⟩ is the
 * same for every layer, so the imbalance ‖W_k‖² − ‖W_{k+1}‖² changes by exactly
 * η²(‖G_k‖² − ‖G_{k+1}‖²); per hidden neuron, ‖w_in‖² − ‖w_out‖² by η²(‖g_in‖² − ‖g_out‖²).
 * This holds for ANY loss (squared included) and any data.
 *
 * Tolerance: the step runs in float32. Rounding W⁺ entry-wise (unit roundoff u = 2⁻²⁴) moves
 * ‖W⁺‖² by at most 2u(‖W⁺‖² + ‖W⁺‖·η‖G‖); the float32 gradient itself is off by at most ~m·u
 * relative in each entry, m the length of the longest sum in backprop (N·width), which moves
 * 2η⟨W,G⟩ by 2η‖W‖‖G‖·m·u. The bound below adds these for both sides with a factor 4 of headroom;
 * the observed error is typically 1–10% of it. A first-order error in the step (a wrong sign, a
 * per-layer rate, weight decay) is O(η⟨W,G⟩), far above it.
 *
 * Loss-based steps (src/schedule.ts): η_t = α_t/L changes every step, α adapts and steps that raised
 * the loss are undone and retried smaller. The identity holds per step with the η_t of the step
 * that was KEPT (StepInfo.stepSize), not the one first tried: the check uses that η_t, starts α
 * well above what descends so that undos happen, and counts the checks that follow an undo.
 *
 * Negative control: per-layer step sizes η_k = m_k η break the identity, by exactly the predicted
 * −2η(m_k − m_{k+1})⟨W,G⟩ + η²(m_k²‖G_k‖² − m_{k+1}²‖G_{k+1}‖²).
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { dot, logLoss, margins, sumSquares } from '../src/measure.js';
import type { Weights } from '../src/model.js';
import { Trainer } from '../src/train.js';
import { assertProperty, checkProperty, reportEvidence, reportFigure, reportTrajectory } from './store.js';
import { buildExperiment, curvatureScale, expTypeLossArb, gridReal, lossArb, reductionArb, runs, settingArb, U32 } from './common.js';

interface Check {
  what: string;
  observed: number;
  predicted: number;
  tol: number;
  /** Size of the η² term: how much the identity says beyond "conserved". */
  secondOrder: number;
}

/**
 * The balance checks of one step from W (gradient G) to Wa. `m` are per-layer step multipliers:
 * with m = 1 the prediction is the theory's identity.
 */
function balanceChecks(W: Weights, G: Weights, Wa: Weights, eta: number, m: number[], fanIn: number): Check[] {
  const inner = W.map((Wk, k) => W[k].reduce((s, row, i) => s + dot(row, G[k][i]), 0));
  const s = inner.reduce((a, b) => a + b, 0) / inner.length; // equal across layers by Euler
  const norm = (A: number[][]) => Math.sqrt(sumSquares(A));
  const roundoff = (k: number) =>
    2 * U32 * (sumSquares(Wa[k]) + sumSquares(W[k]) + eta * m[k] * norm(W[k]) * norm(G[k]) * (1 + fanIn));
  const checks: Check[] = [];
  for (let k = 0; k + 1 < W.length; k++) {
    const eK = eta * m[k];
    const eJ = eta * m[k + 1];
    const second = eK * eK * sumSquares(G[k]) - eJ * eJ * sumSquares(G[k + 1]);
    checks.push({
      what: `layers ${k},${k + 1}`,
      observed: sumSquares(Wa[k]) - sumSquares(Wa[k + 1]) - (sumSquares(W[k]) - sumSquares(W[k + 1])),
      predicted: -2 * (eK - eJ) * s + second,
      tol: 4 * (roundoff(k) + roundoff(k + 1)),
      secondOrder: Math.abs(second),
    });
    // Per hidden neuron i: incoming row i of W_k, outgoing column i of W_{k+1}.
    W[k].forEach((_, i) => {
      const rowSq = (A: number[][]) => dot(A[i], A[i]);
      const colSq = (A: number[][]) => A.reduce((t, r) => t + r[i] * r[i], 0);
      const sIn = dot(W[k][i], G[k][i]);
      const sOut = W[k + 1].reduce((t, r, j) => t + r[i] * G[k + 1][j][i], 0);
      const secondN = eK * eK * rowSq(G[k]) - eJ * eJ * colSq(G[k + 1]);
      const scale = rowSq(Wa[k]) + rowSq(W[k]) + colSq(Wa[k + 1]) + colSq(W[k + 1]) + eta * Math.abs(sIn) * (1 + fanIn);
      checks.push({
        what: `neuron ${i} between layers ${k},${k + 1}`,
        observed: rowSq(Wa[k]) - colSq(Wa[k + 1]) - (rowSq(W[k]) - colSq(W[k + 1])),
        predicted: -2 * eK * sIn + 2 * eJ * sOut + secondN,
        tol: 8 * 2 * U32 * (scale + eta * Math.max(m[k], m[k + 1]) * Math.sqrt((rowSq(W[k]) + colSq(W[k + 1])) * (rowSq(G[k]) + colSq(G[k + 1]))) * (1 + fanIn)),
        secondOrder: Math.abs(secondN),
      });
    });
  }
  return checks;
}

const caseArb = fc.record({
  setting: settingArb({ kinds: ['deep-linear', 'relu'], n: [1, 6], d: [1, 4] }),
  loss: lossArb,
  reduction: reductionArb,
  /** Step relative to the curvature bound, large enough that the η² term is visible in float32. */
  etaScale: gridReal(0.05, 0.8),
  /**
   * Per-layer step multipliers (negative control only): the first layer keeps η and the others
   * differ from it by at least 10%, so the first pair of layers surely has unequal rates (equal
   * multipliers would only rescale η, which is not what the control is about).
   */
  multipliers: fc
    .array(fc.oneof(gridReal(0.5, 0.9), gridReal(1.1, 2)), { minLength: 2, maxLength: 2 })
    .map((rest) => [1, ...rest]),
});
type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;
/** Loss-based steps divide by L: exp-type losses only. */
const lossBasedCaseArb: fc.Arbitrary<Case> = caseArb.chain((c) => expTypeLossArb.map((loss) => ({ ...c, loss })));

const STEPS = 3;
/** Loss-based runs take more steps: α₀ starts LOSS_BASED_START× the constant case's first step, so the first ones are undone. */
const LOSS_BASED_STEPS = 6;
const LOSS_BASED_START = 10_000;
/** log L below which a loss-based run stops (every margin above 100: far past fitting). */
const LOSS_BASED_STOP = -100;

interface StepData {
  W: Weights;
  G: Weights;
  Wa: Weights;
  /** The kept step's scalar on G: η_t with G = ∇L (constant), c = η_t·L with G = ∇log L (loss-based). */
  eta: number;
  /** Steps undone before this one was kept. */
  undone: number;
}

/**
 * Runs a few steps of the case — constant GD (per-layer rates `m` if given), or loss-based — and
 * returns each step's weights, gradient ∇L and kept η_t.
 */
function runSteps(c: Case, m?: number[], schedule: 'constant' | 'loss-based' = 'constant'): { steps: StepData[]; fanIn: number; depth: number } {
  const { spec, data, init } = buildExperiment(c.setting);
  const eta = c.etaScale / curvatureScale(data, init, spec.kind, c.loss, c.reduction);
  // loss-based: α is the coefficient on ∇log L, so the constant case's first step is α = η·L₀
  const lr = schedule === 'constant' ? eta : LOSS_BASED_START * eta * Math.exp(logLoss(margins(init, data, spec.kind), c));
  const trainer = new Trainer(data, init, {
    model: spec, loss: c.loss, reduction: c.reduction, schedule, lr,
    ...(m ? { layerLr: m.slice(0, spec.depth) } : {}),
  });
  const steps: StepData[] = [];
  try {
    for (let t = 0; t < (schedule === 'constant' ? STEPS : LOSS_BASED_STEPS); t++) {
      const W = trainer.weights();
      if (schedule === 'constant') {
        const { grads: G } = trainer.gradient();
        const info = trainer.step();
        steps.push({ W, G, Wa: trainer.weights(), eta: info.stepSize, undone: 0 });
      } else {
        // in the scale of log L: η_t ∇L = c ∇log L with c = η_t·L the kept step's coefficient
        // (η_t itself overflows once L underflows, which a few steps on one point reach)
        const { grads: G, logLoss } = trainer.gradient('logLoss');
        // One point with α growing at every kept step grows its margin superexponentially and
        // overflows float32 within a few steps; checks stop far past fitting, before that.
        if (logLoss < LOSS_BASED_STOP) break;
        const info = trainer.step();
        steps.push({ W, G, Wa: trainer.weights(), eta: info.coefficient, undone: info.undone });
      }
    }
  } finally {
    trainer.dispose();
  }
  return { steps, fanIn: data.X.length * Math.max(spec.width, data.X[0].length), depth: spec.depth };
}

function checksOf(run: ReturnType<typeof runSteps>, m: number[]): (Check & { afterUndo: boolean })[] {
  return run.steps.flatMap(({ W, G, Wa, eta, undone }) =>
    balanceChecks(W, G, Wa, eta, m.slice(0, run.depth), run.fanIn).map((k) => ({ ...k, afterUndo: undone > 0 })),
  );
}

const ones = [1, 1, 1];
const broken = (k: Check) => Math.abs(k.observed - k.predicted) > k.tol;

describe('C1: exact balance identities of a GD step', () => {
  test('C1: layer and per-neuron imbalance change by exactly η²(‖G_k‖² − ‖G_{k+1}‖²) per GD step, for any loss', () => {
    let informative = 0;
    let total = 0;
    assertProperty({
      id: 'C1-balance-identity',
      arb: caseArb,
      predicate: (c) => {
        for (const k of checksOf(runSteps(c), ones)) {
          expect(Math.abs(k.observed - k.predicted), `${k.what}: observed ${k.observed}, predicted ${k.predicted}`).toBeLessThanOrEqual(k.tol);
          total++;
          if (k.secondOrder > 10 * k.tol) informative++;
        }
      },
      params: { numRuns: runs(40) },
    });
    // The identity must say more than "conserved": in a good share of checks the η² term is
    // well above the tolerance, so a step that dropped it would fail.
    reportEvidence({ checks: total });
    reportFigure({ name: 'share of checks with the η² term above 10× the tolerance', value: informative / total, predicted: '> 0.2' });
    expect(informative / total).toBeGreaterThan(0.2);
  });
});

describe('C1: the balance identities under loss-based steps', () => {
  test('C1: with loss-based steps (η_t = α_t/L, steps undone and retried) the identity holds per step with the η_t of the kept step', () => {
    let informative = 0;
    let total = 0;
    let runsChecked = 0;
    let runsWithUndo = 0;
    assertProperty({
      id: 'C1-balance-identity-loss-based',
      arb: lossBasedCaseArb,
      predicate: (c) => {
        const checks = checksOf(runSteps(c, undefined, 'loss-based'), ones);
        for (const k of checks) {
          expect(Math.abs(k.observed - k.predicted), `${k.what}${k.afterUndo ? ' (after an undo)' : ''}: observed ${k.observed}, predicted ${k.predicted}`).toBeLessThanOrEqual(k.tol);
          total++;
          if (k.secondOrder > 10 * k.tol) informative++;
        }
        runsChecked++;
        // a kept step after undone ones, whose η² term the check can see
        if (checks.some((k) => k.afterUndo && k.secondOrder > 10 * k.tol)) runsWithUndo++;
      },
      params: { numRuns: runs(40) },
    });
    reportTrajectory('C1-loss-based', [], { checks: total, shareWithVisibleSecondOrderTerm: informative / total, shareOfRunsWithVisibleUndoneStep: runsWithUndo / runsChecked });
    // Measured share 0.48 (1200 cases, 3 seeds); resampling 40 of those cases gives a share ≤ 0.2
    // with chance ~3e-6 (25 cases: ~2e-4, why the run count is 40).
    expect(informative / total).toBeGreaterThan(0.2);
    // The kept η_t differs from the first one tried, visibly, in some run: the undo path was
    // exercised. Measured share of such runs 0.31 (1200 draws, 3 seeds), so none in 40 has chance
    // 0.69^40 ≈ 4e-7; the old floor of "more than 10% of runs" (≥ 3 of 25) failed about once
    // in 90 (binomial, P(≤ 2) ≈ 0.012; a flake audit drew 2 of 25, seed 117801628).
    expect(runsWithUndo, `runs with a visible undone step, of ${runsChecked}`).toBeGreaterThanOrEqual(1);
  });
});

describe('N-C1: per-layer step sizes break the balance identities', () => {
  test('N-C1: with per-layer step sizes the identity fails, and fast-check shrinks the failure to a small case', () => {
    const result = checkProperty({
      id: 'N-C1-per-layer-rates',
      arb: caseArb,
      predicate: (c) => !checksOf(runSteps(c, c.multipliers), ones).some(broken),
      params: { numRuns: runs(40) },
    });
    expect(result.failed).toBe(true);
    const c = result.counterexample![0];
    expect(c.setting.n * c.setting.d * c.setting.width).toBeLessThanOrEqual(4);
  });

  test('N-C1: per-layer step sizes change the imbalance by the predicted first-order term −2η(m_k − m_{k+1})⟨W,G⟩', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        for (const k of checksOf(runSteps(c, c.multipliers), c.multipliers)) {
          expect(Math.abs(k.observed - k.predicted), `${k.what}`).toBeLessThanOrEqual(k.tol);
        }
      }),
      { numRuns: runs(20) },
    );
  });
});
