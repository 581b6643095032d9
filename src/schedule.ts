import { InputError, parameterError } from './errors.js';
import { fittedThreshold, type LossKind, type Reduction } from './loss.js';

/**
 * Step-size schedules. Every trainer step moves W ← W − c·g with g = ∇ log L (exp, logistic) or
 * g = ∇L (the squared control), and the schedule picks the scalar c in float64 on the host. The
 * step on L itself is η_t = c/L, and flow time t = Σ η_t over the steps that were kept.
 *
 *   constant    c = η·L: plain gradient descent with step η.
 *   flow        c = η₀/max(1, log 1/L)^{2−2/K} once every margin is positive, c = η₀·min(1, L_sum)
 *               before (L_sum the SUM loss, whatever the reduction).
 *   loss-based  c = α_t: η_t = α_t/L from the first step (Lyu & Li 2020, appendix on the
 *               loss-based learning rate).
 *
 * Why any of these stays on the gradient-flow path: θ̇ = −∇L(θ) and θ' = −s(θ)∇L(θ) with any
 * positive scalar s(θ) trace the same curve, at the speed dt/dτ = s; a step c·∇log L = (c/L)·∇L is
 * a discrete step of the flow with the time change s = c/L. So a schedule only decides how far
 * along the path a step goes (and flow time, accumulated in log space because η_t grows like 1/L,
 * says how far it went). What keeps the discrete steps close to the path is that each step DESCENDS,
 * which is what the loss-based rule enforces:
 *
 * - Linear model: log L = LSE_n(log ℓ(z_n·w)) has Hessian ⪯ max‖z_n‖²·I everywhere, for the exp
 *   and the logistic loss (the covariance of the z_n under the softmax weights, plus for logistic a
 *   term ⪯ Σ(ℓ''/L) z zᵀ with ℓ'' ≤ ℓ). A gradient step on log L with α < 2/max‖x‖² therefore lowers
 *   log L, hence L, at every step; the decrease α(1 − α·max‖x‖²/2)‖∇log L‖² is largest at
 *   α = 1/max‖x‖², factor ½ of the bound (the command line's default). The reduction does not
 *   matter: log L_mean = log L_sum − log N has the same gradient, so α is the same number for both,
 *   and only η_t = α/L differs, by the factor N (η on the mean loss is N times η on the sum), and
 *   with it the flow time. α is fixed; a larger one is refused.
 * - Every other architecture (deep linear, ReLU, and any new layer): there is no such global bound
 *   (the curvature of log L grows like ρ^{2K−2}), so α adapts: after a step that lowered the loss
 *   α ← α·UP (a step that left it unchanged is kept, α too); after one that raised it, or made it
 *   non-finite, the step is undone (the host
 *   copy of the weights is the truth, so that costs nothing) and retried from the same weights with
 *   α ← α/DOWN. Undone steps add no flow time; trainers count them. Only kept steps are on the path.
 *   UP = 2^{1/5} and DOWN = 2^{1/10} are Lyu & Li's factors (per epoch there, per step here).
 */
export type Schedule = 'constant' | 'flow' | 'loss-based';
export const SCHEDULES: readonly Schedule[] = ['constant', 'flow', 'loss-based'];

/** Lyu & Li's factors: α × UP after a kept step, α ÷ DOWN after an undone one. */
export const LOSS_BASED_UP = 2 ** (1 / 5);
export const LOSS_BASED_DOWN = 2 ** (1 / 10);

/** What a trainer asks of a schedule, once per step. */
export interface StepSchedule {
  /** c of the step W ← W − c·g at the current weights, whose objective is log L (L for squared). */
  coefficient(logL: number): number;
  /**
   * Judges a step that moved the objective from logLBefore to logLAfter (NaN or ±∞ if it left the
   * finite numbers): true keeps it, false asks the trainer to undo it and retry from the same
   * weights with the (then smaller) coefficient.
   */
  accept(logLBefore: number, logLAfter: number): boolean;
  /** Whether accept can refuse: only then must the trainer evaluate the loss after each step. */
  readonly undoes: boolean;
}

/** What a schedule needs to know about the run. */
export interface ScheduleSpec {
  schedule: Schedule;
  /** η (constant), η₀ (flow), α₀ (loss-based; α itself for the linear model). */
  lr: number;
  loss: LossKind;
  reduction: Reduction;
}

export interface ScheduleContext {
  /** Degree of homogeneity (number of weight layers). */
  K: number;
  /** Number of training points. */
  n: number;
  /** One layer, no activation: the linear model, whose α has the data bound. */
  linear: boolean;
  /** max‖x_n‖² of the data (the linear model's bound). */
  maxRowNormSq: number;
  /** Minibatch steps (batch size below N). */
  minibatch: boolean;
}

/**
 * The stateless coefficient of the constant and flow schedules (and of a fixed-α loss-based one):
 * isLog says whether logL is log L (exp, logistic) or log of L itself (squared: c is then η).
 */
export function scheduleCoefficient(spec: ScheduleSpec, K: number, n: number, logL: number, isLog: boolean): number {
  const { lr, schedule, reduction, loss } = spec;
  if (!isLog) return lr;
  if (schedule === 'loss-based') return lr;
  if (schedule === 'flow') {
    const logSum = logL + (reduction === 'mean' ? Math.log(n) : 0);
    // Fitted: η_t = η₀/(L (log 1/L)^{2−2/K}); the log is floored at 1 so that a sum loss just
    // below 1 (log 1/L → 0) does not make the step explode.
    if (logSum < Math.log(fittedThreshold(loss))) return lr / Math.max(1, -logL) ** (2 - 2 / K);
    // Not fitted: loss-normalized steps η₀/L while the SUM loss is above 1, which for the exp loss
    // is the whole pre-fit phase (a sum below 1 has every margin positive), and keeps the first
    // steps from a badly misfit init (L = e^{100}, say) finite; plain GD only for a logistic sum
    // in (log 2, 1]. The test is on the sum: with the mean loss L_mean < 1 long before the fit, and
    // plain GD with step η₀ on it never reached the fit of a 178-point set in 10,000 steps.
    return lr * Math.min(1, Math.exp(logSum));
  }
  return lr * Math.exp(logL);
}

/** Checks the options against the run and builds the schedule; InputError names a bad option. */
export function makeSchedule(spec: ScheduleSpec, ctx: ScheduleContext): StepSchedule {
  if (!SCHEDULES.includes(spec.schedule)) throw new InputError(`schedule must be one of ${SCHEDULES.join('|')}, got "${spec.schedule}"`);
  if (!(spec.lr > 0) || !Number.isFinite(spec.lr)) throw parameterError('lr', `must be a positive number, got ${spec.lr}`);
  if (spec.schedule !== 'constant') {
    if (spec.loss === 'squared') throw new InputError(`the ${spec.schedule} schedule needs an exponential-type loss (exp or logistic), not squared`);
    if (ctx.minibatch) throw new InputError(`the ${spec.schedule} schedule needs full-batch steps (it divides by the full loss)`);
  }
  if (spec.schedule !== 'loss-based' || ctx.linear) {
    if (spec.schedule === 'loss-based' && !(spec.lr < 2 / ctx.maxRowNormSq)) {
      throw parameterError(
        'lr', `(α of loss-based steps on a linear model) must be below 2/max‖x‖² = ${2 / ctx.maxRowNormSq} to descend, got ${spec.lr} (1/max‖x‖² = ${1 / ctx.maxRowNormSq} descends fastest)`,
      );
    }
    return {
      coefficient: (logL) => scheduleCoefficient(spec, ctx.K, ctx.n, logL, spec.loss !== 'squared'),
      accept: () => true,
      undoes: false,
    };
  }
  return new AdaptiveAlpha(spec.lr);
}

/** Loss-based steps with α adapted and bad steps undone (see the header). */
export class AdaptiveAlpha implements StepSchedule {
  readonly undoes = true;
  constructor(public alpha: number) {}

  coefficient(): number {
    return this.alpha;
  }

  accept(logLBefore: number, logLAfter: number): boolean {
    // NaN compares false: a non-finite loss is a step to undo
    const kept = logLAfter <= logLBefore;
    // A step that left the loss exactly where it was is kept but says nothing about α: raising α
    // there would let it grow without bound where the gradient is 0 (a ReLU net whose units are
    // all dead) until a tiny gradient times a huge α throws the weights away.
    if (logLAfter < logLBefore) this.alpha *= LOSS_BASED_UP;
    else if (!kept) this.alpha /= LOSS_BASED_DOWN;
    return kept;
  }
}
