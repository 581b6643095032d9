/**
 * The training loop checked against hand-computed facts on tiny models (mutation testing showed
 * these paths had no exact test): one GD step equals w − η∇L; SGD on the sum loss scales the batch
 * by N/B and draws its rows from the seed's `batches` stream; the flow-time accumulator (a log-sum-
 * exp in float64); the flush of subnormal per-point coefficients; weights assigned from outside;
 * and the stop conditions of `train` with their messages.
 * Every model here is linear or a 2-layer deep-linear net on 1–5 points, so each case is a few
 * kernels.
 */
import { describe, expect, test } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../src/data.js';
import { DivergenceError, InputError } from '../src/errors.js';
import { modelSpec } from '../src/model.js';
import { stream } from '../src/rng.js';
import { MAX_STEPS, SCHEDULES, train, Trainer, type TrainOptions } from '../src/train.js';
import { thrown } from './harness.js';

const linear = modelSpec('linear');
const gd: TrainOptions = { model: linear, loss: 'exp', reduction: 'sum', schedule: 'constant', lr: 0.1 };
/** Two points, y = ±1: at w = 0 both margins are 0, L = Σ e^{−q} = 2 and ∇L = −Σ yₙxₙ = −([1,0] − [0,2]) = [−1, 2]. */
const two: Dataset = { X: [[1, 0], [0, 2]], y: [1, -1] };
/** N one-hot points e₀…e_{N−1}, all labelled +1: a step on row n moves only coordinate n of w. */
const oneHot = (N: number): Dataset => ({ X: Array.from({ length: N }, (_, i) => Array.from({ length: N }, (_, j) => (i === j ? 1 : 0))), y: new Array(N).fill(1) });


/** Runs `f` on a fresh trainer and frees it. */
function withTrainer<T>(data: Dataset, init: number[][][], opts: TrainOptions, f: (t: Trainer) => T): T {
  const t = new Trainer(data, init, opts);
  try {
    return f(t);
  } finally {
    t.dispose();
  }
}

describe('one gradient step by hand', () => {
  test('train(steps: 1) takes exactly one step w − η∇L, and records it as step 1', () => {
    const { records, weights } = train(two, [[[0, 0]]], gd, { steps: 1 });
    // w₁ = 0 − 0.1·[−1, 2] = [0.1, −0.2] (float32); a second step would move it again
    expect(weights[0][0][0]).toBeCloseTo(0.1, 7);
    expect(weights[0][0][1]).toBeCloseTo(-0.2, 7);
    expect(records.map((r) => r.step)).toEqual([1]);
  });

  test('StepInfo: the step on L is η itself (c = η·L, η_t = c/L), flow time log η after one step', () => {
    withTrainer(two, [[[0, 0]]], gd, (t) => {
      const info = t.step();
      expect(info.logLoss).toBeCloseTo(Math.log(2), 12); // L = 2 before the step
      expect(info.stepSize).toBeCloseTo(0.1, 12); // c/L = η·L/L; c·L would be 0.4
      expect(t.logFlowTime).toBeCloseTo(Math.log(0.1), 12);
    });
  });

  test('negative controls: weight decay λ adds ηλw to the step, layerLr m multiplies ηg', () => {
    // w = [1, 1]: q = [1, −2], ∇L = −e^{−1}[1, 0] + e^{2}[0, 2] = [−e^{−1}, 2e²]
    const g = [-Math.exp(-1), 2 * Math.exp(2)];
    // from w = [2, 1] (entries ≠ ±1, so that ηλ·w and ηλ/w differ): q = [2, −2], ∇L = [−e^{−2}, 2e²]
    const gDecay = [-Math.exp(-2), 2 * Math.exp(2)];
    const decayed = train(two, [[[2, 1]]], { ...gd, weightDecay: 0.5 }, { steps: 1 }).weights[0][0];
    // w − η∇L − ηλw with ηλ = 0.05
    decayed.forEach((v, i) => expect(v).toBeCloseTo([2, 1][i] * (1 - 0.05) - 0.1 * gDecay[i], 5));
    const scaled = train(two, [[[1, 1]]], { ...gd, layerLr: [3] }, { steps: 1 }).weights[0][0];
    scaled.forEach((v, i) => expect(v).toBeCloseTo(1 - 3 * 0.1 * g[i], 5)); // w − mη∇L, m = 3
  });

  test('weights assigned to a variable from outside are the ones read and stepped from', () => {
    withTrainer(two, [[[0, 0]]], gd, (t) => {
      t.step();
      tf.tidy(() => t.layers[0].assign(tf.tensor2d([[0, 0]])));
      // the host copy of step 1 ([0.1, −0.2]) is stale now: the variable holds 0 again
      expect(t.weights()).toEqual([[[0, 0]]]);
      t.step(); // from 0 again: the same step as the first, [0.1, −0.2]
      const [[w]] = t.weights();
      expect(w[0]).toBeCloseTo(0.1, 7);
      expect(w[1]).toBeCloseTo(-0.2, 7);
    });
  });
});

describe('minibatch SGD', () => {
  test('sum loss: the batch estimates the full sum, (N/B)·Σ_batch ℓ; one step moves each sampled row by η·N/B', () => {
    withTrainer(oneHot(4), [[[0, 0, 0, 0]]], { ...gd, batchSize: 2, seed: 3 }, (t) => {
      const info = t.step();
      // at w = 0 every ℓ = 1: (4/2)·2 = 4, the full sum exactly
      expect(info.logLoss).toBeCloseTo(Math.log(4), 12);
      // ∇_w of (N/B)Σ_batch e^{−w·eₙ} at 0 is −(N/B)Σ_batch eₙ: two coordinates become η·2 = 0.2
      const w = t.weights()[0][0];
      expect(w.filter((v) => v === 0).length).toBe(2);
      for (const v of w.filter((v) => v !== 0)) expect(v).toBeCloseTo(0.2, 7);
    });
  });

  test('mean loss: no N/B factor, the batch mean; one step moves each sampled row by η/B', () => {
    withTrainer(oneHot(4), [[[0, 0, 0, 0]]], { ...gd, reduction: 'mean', batchSize: 2, seed: 3 }, (t) => {
      const info = t.step();
      expect(info.logLoss).toBeCloseTo(0, 12); // mean of ℓ = 1, 1
      const w = t.weights()[0][0];
      expect(w.filter((v) => v === 0).length).toBe(2);
      for (const v of w.filter((v) => v !== 0)) expect(v).toBeCloseTo(0.05, 7); // η·(1/B)·1
    });
  });

  test('batch size 1 draws one row per step, uniform over 0..N−1, from the seed\'s batches stream', () => {
    const N = 5;
    const rng = stream(11, 'batches');
    const expected = Array.from({ length: 8 }, () => rng.int(N)); // one draw per step (Fisher–Yates, k = 1)
    const rows = withTrainer(oneHot(N), [[new Array(N).fill(0)]], { ...gd, batchSize: 1, seed: 11 }, (t) => {
      const picked: number[] = [];
      let before = t.weights()[0][0];
      for (let s = 0; s < 8; s++) {
        t.step();
        const after = t.weights()[0][0];
        // only the sampled one-hot row's coordinate moves (its margin gradient is e_n)
        const moved = after.flatMap((v, i) => (v !== before[i] ? [i] : []));
        expect(moved.length).toBe(1);
        picked.push(moved[0]);
        before = after;
      }
      return picked;
    });
    expect(rows).toEqual(expected);
  });
});

describe('flow time Σ η_t in log space', () => {
  test('a step that is e^900 times the previous one dominates the sum without overflow', () => {
    // flow, K = 1, one point x = 1, y = 1, w₀ = −800: L = e^800 > 1, not fitted, so c = η₀ = 900 and
    // η₁ = c/L = 900e^{−800}; w₁ = −800 + 900 = 100. Step 2: L = e^{−100}, fitted, c = η₀/1 (K = 1:
    // exponent 0), η₂ = 900e^{100}. log(η₁ + η₂) = log 900 + 100 + log1p(e^{−900}) = log 900 + 100.
    withTrainer({ X: [[1]], y: [1] }, [[[-800]]], { ...gd, schedule: 'flow', lr: 900 }, (t) => {
      t.step();
      expect(t.logFlowTime).toBeCloseTo(Math.log(900) - 800, 10);
      expect(t.weights()).toEqual([[[100]]]);
      t.step();
      expect(t.logFlowTime).toBeCloseTo(Math.log(900) + 100, 10);
    });
  });

  test('a step whose coefficient underflows (c = η·e^{−800} = 0) moves nothing and adds no flow time', () => {
    withTrainer({ X: [[1]], y: [1] }, [[[800]]], gd, (t) => {
      // the step taken is exp(log c − log L) = exp(−∞) = 0, consistent with the flow time (c/L was 0/0)
      expect(t.step().stepSize).toBe(0);
      t.step();
      expect(t.weights()).toEqual([[[800]]]); // W − 0·g
      expect(t.logFlowTime).toBe(-Infinity); // log 0 + log 0 stays log 0 (not NaN)
    });
  });
});

describe('subnormal per-point coefficients are sent as 0', () => {
  // squared loss, one point x = 1, y = 1, w = 0: c = η, ∂L/∂f = −2(1 − f) = −2, δ = 2η
  const sq = (lr: number): TrainOptions => ({ ...gd, loss: 'squared', lr });
  test('δ = 2^−126, the smallest normal float32, is kept: w₁ = 2^−126', () => {
    const { weights } = train({ X: [[1]], y: [1] }, [[[0]]], sq(2 ** -127), { steps: 1 });
    expect(weights).toEqual([[[2 ** -126]]]);
  });
  test('δ = 2^−127 (subnormal) is flushed: w stays exactly 0', () => {
    const { weights } = train({ X: [[1]], y: [1] }, [[[0]]], sq(2 ** -128), { steps: 1 });
    expect(weights).toEqual([[[0]]]);
  });
});

describe('stop conditions and their messages', () => {
  test('a non-finite loss at step 1 names the step, with no "before" clause (there is no earlier step)', () => {
    // f = 3e38·10 overflows float32: the squared loss (1 − f)² is +∞
    const e = thrown(() => withTrainer({ X: [[10]], y: [1] }, [[[3e38]]], { ...gd, loss: 'squared' }, (t) => t.step()));
    expect(e).toBeInstanceOf(DivergenceError);
    expect(e.message).toBe('training produced a non-finite loss (Infinity) at step 1');
  });

  test('a non-finite loss later reports log L before the last finite step', () => {
    // squared, x = 1, y = 1, w = 0, η = 1e38: w₁ = 2η = 2e38; L(w₁) = (1 − 2e38)² = 4e76 is finite,
    // but δ = −η·2(w₁ − 1) = −4e76 overflows float32: w₂ = −∞, and L(w₂) = +∞ at step 3
    const e = thrown(() => withTrainer({ X: [[1]], y: [1] }, [[[0]]], { ...gd, loss: 'squared', lr: 1e38 }, (t) => {
      for (let s = 0; s < 3; s++) t.step();
    }));
    expect(e).toBeInstanceOf(DivergenceError);
    const m = /^training produced a non-finite loss \(Infinity\) at step 3 \(log L was (\S+) before step 2\)$/.exec(e.message);
    expect(m, e.message).not.toBeNull();
    expect(Number(m![1])).toBeCloseTo(2 * Math.log(Math.fround(2e38)), 10); // log (1 − w₁)², w₁ = fround(2e38)
  });

  test('train: non-finite weights stop the run, even when only one entry of one row of one layer overflowed', () => {
    // deep-linear K = 2, d = 2, width 2, x = [1, 0], y = 1, W₁ = 0, W₂ = [2, 0.5]: f = 0, L = 1, c = η,
    // δ = η = 3e38, Q = δxᵀ = [3e38, 0], ΔW₁ = W₂ᵀQ = [[6e38, 0], [1.5e38, 0]], ΔW₂ = Q·W₁ = 0:
    // W₁ row 0 = [+∞ (float32), 0], row 1 = [1.5e38, 0] finite, W₂ finite
    const opts: TrainOptions = { ...gd, model: modelSpec('deep-linear', 2, 2), lr: 3e38 };
    const e = thrown(() => train({ X: [[1, 0]], y: [1] }, [[[0, 0], [0, 0]], [[2, 0.5]]], opts, { steps: 1 }));
    expect(e).toBeInstanceOf(DivergenceError);
    expect(e.message).toBe(
      'training produced non-finite weights by step 1; no finite record before it (record earlier steps to see them)',
    );
  });

  test('train: a divergence after a recorded step names that record', () => {
    const opts: TrainOptions = { ...gd, model: modelSpec('deep-linear', 2, 2), lr: 3e38 };
    const e = thrown(() => train({ X: [[1, 0]], y: [1] }, [[[0, 0], [0, 0]], [[2, 0.5]]], opts, { steps: 1, record: [0] }));
    expect(e).toBeInstanceOf(DivergenceError);
    // step 0: W₁ = 0 so f = 0, log L = log e^0 = 0, ‖θ‖ = ‖W₂‖ = √(4 + 0.25), min margin 0
    expect(e.message).toBe(`training produced non-finite weights by step 1; last finite record: step 0, logLoss 0, norm ${Math.sqrt(4.25)}, minMargin 0`);
  });

  test('train: errors other than divergence (here from annotate) pass through unchanged', () => {
    const boom = new RangeError('boom');
    const e = thrown(() => train(two, [[[0, 0]]], gd, { steps: 2, annotate: () => { throw boom; } }));
    expect(e).toBe(boom);
  });

  test('train: steps must be an integer in 1..MAX_STEPS', () => {
    for (const steps of [0, -1, 1.5, Number.NaN, MAX_STEPS + 1]) {
      const e = thrown(() => train(two, [[[0, 0]]], gd, { steps }));
      expect(e).toBeInstanceOf(InputError);
      expect(e.message).toBe(`steps must be an integer in 1..100000000, got ${steps}`);
      expect((e as InputError).parameter).toBe('steps');
    }
  });
});

test('SCHEDULES lists the three members of the Schedule type (the CLI validates --schedule against it)', () => {
  expect(SCHEDULES).toEqual(['constant', 'flow', 'loss-based']);
});
