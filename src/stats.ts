/**
 * Statistics for claims about expectations, e.g. "the mean generalization gap at 4N is smaller
 * than at N" (docs/THEORY.md C7), measured on paired replicates that share randomness: D_i =
 * gap_i(N) − gap_i(4N), and the claim is E[D] > effect.
 *
 * The decision is a sequential test by betting (Waudby-Smith & Ramdas 2023, "Estimating means of
 * bounded random variables by betting", JRSS-B): for bounded observations D_i ∈ [−B, B] and a
 * candidate mean m, a gambler's wealth
 *
 *   K⁺_t(m) = Π_{i≤t} (1 + λ⁺_i(m) (D_i − m)),   λ⁺_i(m) ∈ [0, c/(B+m)],  chosen from D_1..D_{i−1}
 *
 * is a nonnegative supermartingale whenever E[D_i | past] ≤ m (each factor is ≥ 1 − c > 0 and has
 * conditional mean ≤ 1). Only the lower end of the range enters K⁺'s cap (the factor is smallest
 * at D_i = −B) and only the upper end enters K⁻'s: for a range [a, b] that is not symmetric the caps
 * are c/(m − a) and c/(b − m) (`bound: [a, b]`), which lets a test bet harder on the side whose end
 * is near (e.g. a statistic bounded above by a few units but below only by hundreds).
 * Ville's inequality then gives P(∃t: K⁺_t(m) ≥ 1/α) ≤ α: the bound holds uniformly over time,
 * so it survives continuous monitoring and stopping whenever we like (optional stopping). The mirror wealth K⁻_t(m) = Π (1 − λ⁻_i(m)(D_i − m)) does the same for E[D] ≥ m.
 *
 * Verdicts, for the claim E[D] > effect (= δ) at level α:
 *   'pass'          K⁺(δ) reached 1/α. P(ever 'pass') ≤ α whenever the claim is false, i.e.
 *                   E[D_i | past] ≤ δ for every i, however long we watch.
 *   'fail'          K⁻(δ) reached 1/α: the data give evidence AGAINST the claim. P(ever 'fail') ≤ α
 *                   whenever E[D_i | past] ≥ δ for every i.
 *   'inconclusive'  neither, when maxSamples observations are spent (or, while the test is
 *                   running, not decided yet; see `done`).
 * A decision is final: the test stops at the first crossing and refuses further observations.
 *
 * The same wealth processes, evaluated at every m, give a confidence sequence (lower, upper) for
 * the mean: P(∃t: E[D] ≤ lower_t) ≤ α and P(∃t: E[D] ≥ upper_t) ≤ α. Their bets are tuned to
 * decide at δ (not to make the interval narrowest), and they agree with the verdict:
 * 'pass' ⇔ effect ≤ lower, 'fail' ⇔ upper ≤ effect.
 *
 * Bets: aGRAPA (approximate growth-rate adaptive, from WSR 2023), the Kelly bet for a Gaussian with
 * the running mean μ̂ and variance σ̂², λ̂ = (μ̂ − δ)/(σ̂² + (μ̂ − δ)²), kept ≥ 0 on the side it
 * favours, and truncated at c/(B ± m) with c = 1/2. Only one side bets at a time.
 */

export type Verdict = 'pass' | 'fail' | 'inconclusive';

export interface SequentialTestOptions {
  /** False-alarm rate in (0, 1): P('pass' | E[D] ≤ effect) ≤ alpha, and likewise for 'fail'. */
  alpha: number;
  /**
   * Every observation lies in [−bound, bound], or in [a, b] for bound = [a, b] (a < b); an
   * observation outside throws.
   */
  bound: number | readonly [number, number];
  /** The claim is E[D] > effect; default 0. Must lie strictly inside the range. */
  effect?: number;
  /** The budget of observations; when it is spent undecided, the verdict is 'inconclusive'. */
  maxSamples: number;
  /**
   * The pseudo-observation that starts the running mean and variance of the bets: by default the
   * midpoint of the range with spread half its width (the largest variance on it). Any choice is
   * valid (the bets only have to be fixed before each observation); a range far wider on one side
   * than the other makes the default keep the bets small for long, and a prior spread of the
   * near side's scale lets them reach their cap sooner.
   */
  prior?: { mean: number; spread: number };
}

export interface SequentialTest {
  /** Adds one observation and returns the verdict so far. Throws once `done`. */
  observe(d: number): Verdict;
  /** True once the verdict is final: 'pass', 'fail', or the budget is spent. */
  readonly done: boolean;
  readonly verdict: Verdict;
  /** Observations so far. */
  readonly n: number;
  /** Their sample mean (NaN before the first). */
  readonly mean: number;
  /** Confidence sequence for E[D] at level α each side, valid uniformly over time: (lower, upper). */
  readonly lower: number;
  readonly upper: number;
}

function checkAlpha(alpha: number, name = 'alpha'): void {
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`${name} must lie in (0, 1), got ${alpha}`);
}

function checkPositiveInteger(v: number, name: string): void {
  if (!(Number.isSafeInteger(v) && v >= 1)) throw new RangeError(`${name} must be a positive integer, got ${v}`);
}

/**
 * Sequential one-sided test of E[D] > effect for observations in [−bound, bound], valid under
 * continuous monitoring (see the file comment for the guarantees).
 */
export function sequentialMeanTest(opts: SequentialTestOptions): SequentialTest {
  return new BettingMeanTest(opts);
}

/** Truncation of the bets: each wealth factor stays ≥ 1 − TRUNCATION. */
const TRUNCATION = 0.5;

// A class rather than a closure: V8 keeps its float fields unboxed, a closure's captured `let`s
// allocate on every update (a 5× slowdown in the calibration simulations).
class BettingMeanTest implements SequentialTest {
  private readonly a: number; // the range [a, b] of the observations
  private readonly b: number;
  private readonly effect: number;
  private readonly maxSamples: number;
  private readonly threshold: number; // reject when log-wealth ≥ log(1/α)  (Ville)
  private readonly capUp: number;
  private readonly capDown: number;

  // History, kept to evaluate the wealth at any m for the confidence sequence (on demand).
  private readonly xs: number[] = [];
  private readonly bets: number[] = []; // untruncated signed Kelly bet, fixed before D_i was seen

  private logUp = 0; // log K⁺_t(effect)
  private logDown = 0; // log K⁻_t(effect)
  private sum = 0;
  private readonly mid: number; // the prior pseudo-observation: (a + b)/2 by default
  private readonly halfWidthSq: number; // its variance: ((b − a)/2)² by default, the largest on [a, b]
  private priorMean: number; // μ̂_{t−1}: running mean with one pseudo-observation at the midpoint
  private sumSq = 0;
  private priorVar: number; // σ̂²_{t−1}: pseudo-observation with the largest variance on [a, b]
  private state: Verdict = 'inconclusive';
  private finished = false;
  private boundsAt = -1;
  private lo: number;
  private hi: number;

  constructor(opts: SequentialTestOptions) {
    const { alpha, maxSamples } = opts;
    const effect = opts.effect ?? 0;
    checkAlpha(alpha);
    const [a, b] = rangeOf(opts.bound);
    if (!(Number.isFinite(effect) && effect > a && effect < b)) {
      const inside = typeof opts.bound === 'number' ? `(−bound, bound) = (${a}, ${b})` : `the range (${a}, ${b})`;
      throw new RangeError(`effect must lie strictly inside ${inside}, got ${effect}`);
    }
    checkPositiveInteger(maxSamples, 'maxSamples');
    this.a = a;
    this.b = b;
    this.effect = effect;
    this.maxSamples = maxSamples;
    this.threshold = Math.log(1 / alpha);
    this.capUp = TRUNCATION / (effect - a);
    this.capDown = TRUNCATION / (b - effect);
    const prior = opts.prior ?? { mean: 0.5 * (a + b), spread: 0.5 * (b - a) };
    if (!(prior.mean >= a && prior.mean <= b && Number.isFinite(prior.spread) && prior.spread > 0)) {
      throw new RangeError(`prior must have a mean in [${a}, ${b}] and a positive finite spread, got mean ${prior.mean}, spread ${prior.spread}`);
    }
    this.mid = prior.mean;
    this.halfWidthSq = prior.spread ** 2;
    this.priorMean = this.mid;
    this.priorVar = this.halfWidthSq;
    this.lo = a;
    this.hi = b;
  }

  observe(d: number): Verdict {
    if (this.finished) {
      throw new Error(`sequential test is already done (verdict ${this.state} after ${this.xs.length} observations)`);
    }
    const { a, b, effect } = this;
    if (!Number.isFinite(d) || d < a || d > b) {
      throw new RangeError(`observation ${d} is outside the declared bound [${a}, ${b}]`);
    }
    // Bets from the past only (predictable): the Kelly bet of a Gaussian with mean μ̂, variance σ̂².
    const u = this.priorMean - effect;
    const kelly = u / (this.priorVar + u * u);
    this.xs.push(d);
    this.bets.push(kelly);
    // K⁺ bets λ⁺ = min(kelly, cap) when kelly > 0, K⁻ bets λ⁻ = min(−kelly, cap) when kelly < 0.
    if (kelly > 0) this.logUp += Math.log1p(Math.min(kelly, this.capUp) * (d - effect));
    else if (kelly < 0) this.logDown += Math.log1p(Math.min(-kelly, this.capDown) * (effect - d));

    const t = this.xs.length;
    this.sum += d;
    this.priorMean = (this.mid + this.sum) / (t + 1);
    const r = d - this.priorMean;
    this.sumSq += r * r;
    this.priorVar = (this.halfWidthSq + this.sumSq) / (t + 1);

    // Only one side bets at each step, so the two wealths never cross 1/α on the same step.
    if (this.logUp >= this.threshold) this.state = 'pass';
    else if (this.logDown >= this.threshold) this.state = 'fail';
    this.finished = this.state !== 'inconclusive' || t >= this.maxSamples;
    return this.state;
  }

  get done(): boolean {
    return this.finished;
  }
  get verdict(): Verdict {
    return this.state;
  }
  get n(): number {
    return this.xs.length;
  }
  get mean(): number {
    return this.xs.length === 0 ? NaN : this.sum / this.xs.length;
  }
  get lower(): number {
    this.updateBounds();
    return this.lo;
  }
  get upper(): number {
    this.updateBounds();
    return this.hi;
  }

  /** max over s ≤ n of log K±_s(m) for the side `sign` (+1: K⁺, −1: K⁻). */
  private maxLogWealth(m: number, sign: 1 | -1): number {
    const { xs, bets } = this;
    const cap = TRUNCATION / (sign > 0 ? m - this.a : this.b - m); // Infinity at m = a (K⁺) or b (K⁻): the factor is then ≥ 1 anyway
    let log = 0;
    let best = 0;
    for (let i = 0; i < xs.length; i++) {
      const bet = sign * bets[i]; // this side bets only when positive
      if (bet <= 0) continue;
      log += Math.log1p(Math.min(bet, cap) * sign * (xs[i] - m));
      if (log > best) best = log;
    }
    return best;
  }

  /**
   * The rejected means {m : max_s log K±_s(m) ≥ threshold} form [a, boundary] for K⁺ (each factor
   * is nonincreasing in m, the truncation included) and [boundary, b] for K⁻; find each boundary by
   * bisection. Using the running maximum over s makes these the running intersection of the
   * per-time intervals, still valid by Ville.
   */
  private updateBounds(): void {
    if (this.boundsAt === this.xs.length) return;
    this.boundsAt = this.xs.length;
    const { a, b, threshold } = this;
    // log K⁺(b) ≤ 0 and log K⁻(a) ≤ 0 are below the threshold: b and a are never rejected.
    // lower = the largest m found rejected by K⁺, upper = the smallest found rejected by K⁻.
    const rejectedUp = (m: number) => this.maxLogWealth(m, 1) >= threshold;
    const rejectedDown = (m: number) => this.maxLogWealth(m, -1) >= threshold;
    this.lo = rejectedUp(a) ? bisect(a, b, rejectedUp)[0] : a;
    this.hi = rejectedDown(b) ? bisect(a, b, (m) => !rejectedDown(m))[1] : b;
    // By monotonicity, effect ≤ lo after a 'pass'; max/min only guard against rounding.
    if (this.state === 'pass') this.lo = Math.max(this.lo, this.effect);
    if (this.state === 'fail') this.hi = Math.min(this.hi, this.effect);
  }
}

/** [a, b] of a `bound` option: [−bound, bound] for a number. */
function rangeOf(bound: number | readonly [number, number]): [number, number] {
  if (typeof bound === 'number') {
    if (!(Number.isFinite(bound) && bound > 0)) throw new RangeError(`bound must be a positive finite number, got ${bound}`);
    return [-bound, bound];
  }
  const [a, b] = bound;
  if (!(Number.isFinite(a) && Number.isFinite(b) && a < b)) throw new RangeError(`bound [a, b] must have finite a < b, got [${a}, ${b}]`);
  return [a, b];
}

/**
 * For a predicate true at lo and false at hi, and monotone in between (true, then false): the last
 * point found true and the first found false, adjacent floats.
 */
function bisect(lo: number, hi: number, isBelow: (m: number) => boolean): [number, number] {
  for (;;) {
    const mid = 0.5 * (lo + hi);
    if (mid <= lo || mid >= hi) return [lo, hi];
    if (isBelow(mid)) lo = mid;
    else hi = mid;
  }
}

/**
 * Runs a fresh test to its end, drawing observation i (0-based) from `next(i)`: the loop a
 * property needs, e.g. next = (i) => gap(N, replicate i) − gap(4N, replicate i).
 */
export function runSequentialTest(opts: SequentialTestOptions, next: (i: number) => number): SequentialTest {
  const test = sequentialMeanTest(opts);
  while (!test.done) test.observe(next(test.n));
  return test;
}

/**
 * Bonferroni: the level for each of `parts` tests (e.g. fast-check runs) so that the chance of any
 * false 'pass' among them is ≤ alpha.
 */
export function splitAlpha(alpha: number, parts: number): number {
  checkAlpha(alpha);
  checkPositiveInteger(parts, 'parts');
  return alpha / parts;
}

/**
 * Hoeffding: the mean of n independent values in an interval of width `range` lies within r of its
 * expectation with probability ≥ 1 − delta (two-sided), r = range·√(ln(2/δ) / (2n)). Use it for a
 * finite test set: |test error − expected error| ≤ r.
 */
export function hoeffdingRadius(n: number, range: number, delta: number): number {
  checkPositiveInteger(n, 'n');
  if (!(Number.isFinite(range) && range > 0)) throw new RangeError(`range must be a positive finite number, got ${range}`);
  checkAlpha(delta, 'delta');
  return range * Math.sqrt(Math.log(2 / delta) / (2 * n));
}

export interface VerdictRates {
  repetitions: number;
  pass: number;
  fail: number;
  inconclusive: number;
  /** Median number of observations at which the test stopped (maxSamples when inconclusive). */
  medianSamples: number;
}

/**
 * Simulates the test on `repetitions` independent streams: `sampler(r)` returns the draw function
 * of repetition r (derive its randomness from r, so that the estimate replays). Under a null the
 * 'pass' rate estimates the false-alarm rate; under an effect, the power.
 */
export function verdictRates(
  opts: SequentialTestOptions,
  sampler: (repetition: number) => () => number,
  repetitions: number,
): VerdictRates {
  checkPositiveInteger(repetitions, 'repetitions');
  const counts = { pass: 0, fail: 0, inconclusive: 0 };
  const samples: number[] = [];
  for (let r = 0; r < repetitions; r++) {
    const draw = sampler(r);
    const test = runSequentialTest(opts, () => draw());
    counts[test.verdict]++;
    samples.push(test.n);
  }
  samples.sort((a, b) => a - b);
  const mid = repetitions >> 1;
  const medianSamples = repetitions % 2 === 1 ? samples[mid] : 0.5 * (samples[mid - 1] + samples[mid]);
  return {
    repetitions,
    pass: counts.pass / repetitions,
    fail: counts.fail / repetitions,
    inconclusive: counts.inconclusive / repetitions,
    medianSamples,
  };
}
