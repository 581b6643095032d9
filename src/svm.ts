/**
 * Exact float64 oracle for the hard-margin SVM without bias,
 *   min ½‖w‖²  s.t.  y_n x_n·w ≥ 1,
 * the direction that normalised gradient descent on exponential loss converges to. Solved with
 * quadprog (Goldfarb–Idnani dual active set), whose multipliers are the dual variables alpha.
 */
import { solveQP } from 'quadprog';
import { parseDataset } from './data.js';
import { InputError } from './errors.js';
import type { Reduction } from './loss.js';
import { dot } from './measure.js';

export interface SvmCertificate {
  primalInfeasibility: number; // max_n max(0, 1 - y_n x_n·w)
  stationarity: number; // ‖w - Σ alpha_n y_n x_n‖_∞ / max(1, ‖w‖_∞)
  complementarySlackness: number; // max_n alpha_n |y_n x_n·w - 1|
  dualityGap: number; // |primal - dual| / max(1, |primal|)
  dualInfeasibility: number; // max_n max(0, -alpha_n)
}

export interface SvmResult {
  w: number[];
  gamma: number; // 1/‖w‖, the geometric margin
  support: number[]; // indices with alpha_n > 1e-9·max(alpha) (before underflow), ascending
  alpha: number[]; // one per point
  certificate: SvmCertificate;
}

export class NotSeparableError extends InputError {
  constructor(detail: string) {
    super(`data are not linearly separable through the origin (${detail})`);
    this.name = 'NotSeparableError';
  }
}

export function certificateWorst(c: SvmCertificate): number {
  return Math.max(
    c.primalInfeasibility,
    c.stationarity,
    c.complementarySlackness,
    c.dualityGap,
    c.dualInfeasibility,
  );
}

// A returned w that misses a constraint by more than this is not a rounding artefact (quadprog
// only stops once every constraint holds to ~1e-15), so the data must be non-separable.
// Conversely a w passing this check has y_n x_n·w > 0 for all n, which proves separability.
const FEASIBILITY_TOL = 1e-8;

// Multipliers of constraints quadprog never activated are exactly 0; active constraints whose
// true multiplier is 0 (points exactly on the margin that are not needed) come out at rounding
// level, ~1e-16 of the largest. A threshold relative to the largest multiplier keeps the support
// set independent of the data scale (alpha scales like 1/scale²), and 1e-9 sits far from both.
const SUPPORT_RTOL = 1e-9;

/**
 * Throws InputError for malformed input and NotSeparableError when no w through the origin
 * separates the data. Float64 cannot resolve margins below ~1e-8 of the data scale (‖w‖ ~ 1e8):
 * such data may be reported as not separable. The certificate is returned, not enforced;
 * complementarySlackness is absolute, so it grows like eps/gamma³ for tiny margins.
 */
export function maxMarginSvm(X: number[][], y: number[], o: { inSpan?: boolean } = {}): SvmResult {
  parseDataset({ X, y }, 'svm input'); // throws InputError naming the first problem
  const N = X.length;
  const d = X[0].length;
  const Z = X.map((x, n) => x.map((v) => y[n] * v));
  // 0·w >= 1 is impossible; quadprog would meet it as a zero-norm constraint column.
  Z.forEach((z, n) => {
    if (z.every((v) => v === 0)) throw new NotSeparableError(`point ${n} is the zero vector`);
  });

  // Identical constraints (duplicate points, or x and -x with opposite labels) make alpha
  // non-unique and quadprog would hand all of it to whichever comes first. Solve once per
  // distinct z and share its multiplier equally, so alpha does not depend on point order.
  const groupOf = new Map<string, number>();
  const U: number[][] = []; // distinct z
  const group = Z.map((z) => {
    const key = z.join(',');
    let g = groupOf.get(key);
    if (g === undefined) groupOf.set(key, (g = U.push(z) - 1));
    return g;
  });
  const size = new Array<number>(U.length).fill(0);
  for (const g of group) size[g]++;
  const M = U.length;

  // The minimum-norm w lies in the span of the z_m (a component orthogonal to them adds norm and
  // changes no constraint): with fewer distinct points than dimensions (784-pixel images), solve
  // for the coordinates v of w = Qv in an orthonormal basis Q of that span — the same optimum, the
  // same multipliers (‖Qv‖ = ‖v‖, z_m·Qv = (Qᵀz_m)·v) — in r ≤ M dimensions instead of d.
  // (o.inSpan false: the d-dimensional solve, for the span's cross-check in tests/svm.test.ts and
  // the comparison in `npm run bench -- --only svm`)
  const basis = M < d && o.inSpan !== false ? orthonormalSpan(U) : null;
  const C = basis ? U.map((z) => basis.map((q) => dot(q, z))) : U;
  const r = basis ? basis.length : d;

  // quadprog tests |·| < 1.4e-15 with absolute thresholds, so it is not scale invariant. Solve
  // for the constraint columns divided by a power of two s (exact), bringing the largest entry
  // near 1: with z' = z/s the solution is w' = s·w and alpha' = s²·alpha.
  let maxAbs = 0;
  for (const c of C) for (const v of c) maxAbs = Math.max(maxAbs, Math.abs(v));
  const s = 2 ** Math.round(Math.log2(maxAbs));

  // 1-indexed arrays; D = I, dvec = 0, constraint columns are c_m/s (c_m = z_m, or its coordinates
  // Qᵀz_m), bvec = 1. Fresh arrays each call: solveQP overwrites Dmat and dvec.
  const Dmat: number[][] = [[]];
  const Amat: number[][] = [[]];
  const dvec: number[] = [0];
  for (let i = 1; i <= r; i++) {
    Dmat[i] = [0];
    Amat[i] = [0];
    dvec[i] = 0;
    for (let j = 1; j <= r; j++) Dmat[i][j] = i === j ? 1 : 0;
    for (let m = 1; m <= M; m++) Amat[i][m] = C[m - 1][i - 1] / s;
  }
  const bvec = [0, ...new Array<number>(M).fill(1)];
  // factorized [0, 1]: Dmat is passed as R⁻¹ of D = RᵀR, which for D = I is I itself. quadprog
  // then skips its Cholesky factorization and inversion of the d×d identity (O(d³): a third of
  // the time at d = 784); the iterations are the same arithmetic (identical results, measured).
  const res = solveQP(Dmat, dvec, Amat, bvec, 0, [0, 1]);
  if (res.message.includes('inconsistent')) throw new NotSeparableError('quadprog: ' + res.message);
  if (res.message !== '' || !res.solution || !res.Lagrangian) {
    throw new Error(`quadprog failed: ${res.message}`); // bad arguments: a bug here
  }

  // Lagrangian[m] belongs to constraint column m (1-based), 0 when never active.
  const lagr = res.Lagrangian;
  const v = res.solution.slice(1, r + 1).map((x) => x / s);
  const w = basis ? Array.from({ length: d }, (_, i) => basis.reduce((acc, q, k) => acc + q[i] * v[k], 0)) : v;
  // Multipliers of the scaled problem, shared equally within a group; alpha = that / s². Divide
  // by s twice: s² alone overflows to Infinity once the data exceed ~2^511, zeroing every alpha.
  const lambda = group.map((g) => lagr[g + 1] / size[g]);
  const alpha = lambda.map((l) => l / s / s);
  const certificate = certify(Z, w, alpha);
  if (!w.every(Number.isFinite)) {
    throw new NotSeparableError(`the solver's w is not finite: a margin below float64 resolution`);
  }
  if (!(certificate.primalInfeasibility <= FEASIBILITY_TOL)) {
    throw new NotSeparableError(
      `solution violates a constraint by ${certificate.primalInfeasibility}`,
    );
  }
  // Decided on the scale-free multipliers, so alpha underflowing at extreme data scales cannot
  // empty the support set.
  const lmax = lambda.reduce((a, b) => Math.max(a, b), 0);
  const support = lambda.flatMap((l, n) => (l > SUPPORT_RTOL * lmax ? [n] : []));
  return { w, gamma: 1 / Math.hypot(...w), support, alpha, certificate };
}

/**
 * An orthonormal basis of the span of the rows of Z (modified Gram–Schmidt, each vector
 * orthogonalized twice, which keeps the basis orthogonal to rounding): a row whose remainder is
 * below 1e-13 of its norm adds nothing.
 */
export function orthonormalSpan(Z: number[][]): number[][] {
  const Q: number[][] = [];
  for (const z of Z) {
    // scaled to a largest entry of 1 first: the squares of tiny (subnormal) data underflow
    const big = z.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
    const v = z.map((x) => x / big);
    const size = Math.sqrt(dot(v, v));
    for (let pass = 0; pass < 2; pass++) {
      for (const q of Q) {
        const c = dot(q, v);
        for (let i = 0; i < v.length; i++) v[i] -= c * q[i];
      }
    }
    const n = Math.sqrt(dot(v, v));
    if (n > 1e-13 * size) Q.push(v.map((x) => x / n));
  }
  return Q;
}

/**
 * The offset r* of gradient flow's limit line w(t) = ŵ log t + r* + o(1) on the exp loss over the N
 * rows z_n = y_n x_n of Z, for the SVM with multipliers `alpha` (support: alpha > 0): on each
 * support vector z_n·r* = −log(N α_n) for the mean loss (Soudry et al. 2018, Thm 3), −log α_n for
 * the sum (`reduction`): with w = ŵ log t + r the flow is dr/d(log t) = Σ_S (e^{−z_n·r}/N − α_n) z_n
 * (mean) or Σ_S (e^{−z_n·r} − α_n) z_n (sum), as ŵ = Σ α_n z_n, which vanishes there.
 * Returned as the least-squares solution within the support vectors' span; the part of w
 * orthogonal to that span is set by the non-support points and the start, not by the SVM.
 */
export function limitOffset(Z: number[][], alpha: number[], reduction: Reduction = 'mean'): number[] {
  const N = reduction === 'mean' ? Z.length : 1;
  const S = alpha.flatMap((a, n) => (a > 0 ? [n] : []));
  if (S.length === 0) throw new RangeError('limitOffset: no support vector (every multiplier is 0)');
  const Q = orthonormalSpan(S.map((n) => Z[n]));
  // coordinates in the basis Q: (A Qᵀ) c = b, solved through the normal equations (k ≤ d small)
  const B = S.map((n) => Q.map((q) => dot(Z[n], q)));
  const b = S.map((n) => -Math.log(N * alpha[n]));
  const G = Q.map((_, i) => Q.map((_, j) => B.reduce((s, row) => s + row[i] * row[j], 0)));
  const h = Q.map((_, i) => B.reduce((s, row, m) => s + row[i] * b[m], 0));
  const c = solveSymmetric(G, h);
  return Z[0].map((_, i) => Q.reduce((s, q, j) => s + c[j] * q[i], 0));
}

/** Solves G c = h for a small symmetric positive definite G (Cholesky); exported for tests. */
export function solveSymmetric(G: number[][], h: number[]): number[] {
  const k = G.length;
  const L = G.map(() => new Array<number>(k).fill(0));
  for (let i = 0; i < k; i++) {
    for (let j = 0; j <= i; j++) {
      let s = G[i][j];
      for (let m = 0; m < j; m++) s -= L[i][m] * L[j][m];
      if (i === j) {
        if (!(s > 0)) throw new RangeError('solveSymmetric: the matrix is not positive definite (the support vectors\' Gram matrix in limitOffset is singular)');
        L[i][i] = Math.sqrt(s);
      } else L[i][j] = s / L[j][j];
    }
  }
  const u = new Array<number>(k).fill(0);
  for (let i = 0; i < k; i++) u[i] = (h[i] - L[i].slice(0, i).reduce((s, v, m) => s + v * u[m], 0)) / L[i][i];
  const c = new Array<number>(k).fill(0);
  for (let i = k - 1; i >= 0; i--) c[i] = (u[i] - L.slice(i + 1).reduce((s, row, m) => s + row[i] * c[i + 1 + m], 0)) / L[i][i];
  return c;
}

/** KKT residuals of (w, alpha) for the constraints z_n·w >= 1 (z_n = y_n x_n); exported for tests. */
export function certify(Z: number[][], w: number[], alpha: number[]): SvmCertificate {
  const d = w.length;
  const u = new Array<number>(d).fill(0); // Σ alpha_n z_n
  let primalInfeasibility = 0;
  let complementarySlackness = 0;
  let dualInfeasibility = 0;
  let sumAlpha = 0;
  Z.forEach((z, n) => {
    const m = dot(z, w);
    primalInfeasibility = Math.max(primalInfeasibility, 1 - m);
    complementarySlackness = Math.max(complementarySlackness, alpha[n] * Math.abs(m - 1));
    dualInfeasibility = Math.max(dualInfeasibility, -alpha[n]);
    sumAlpha += alpha[n];
    for (let i = 0; i < d; i++) u[i] += alpha[n] * z[i];
  });
  let resid = 0;
  let wInf = 0;
  for (let i = 0; i < d; i++) {
    resid = Math.max(resid, Math.abs(w[i] - u[i]));
    wInf = Math.max(wInf, Math.abs(w[i]));
  }
  const primal = dot(w, w) / 2;
  const dual = sumAlpha - dot(u, u) / 2;
  return {
    primalInfeasibility,
    stationarity: resid / Math.max(1, wInf),
    complementarySlackness,
    dualityGap: Math.abs(primal - dual) / Math.max(1, Math.abs(primal)),
    dualInfeasibility,
  };
}

/**
 * Drops the non-support points whose margin y·ŵ·x lies within (1, 1 + gap) in SVM units, so that
 * every remaining point is a support vector or at least `gap` beyond the margin. Removing inactive
 * constraints leaves the SVM unchanged, and the gap makes the asymptotic regime of gradient
 * descent (where only support vectors matter) arrive within a test's budget: the non-support
 * terms of the loss decay like t^{−(1+gap)} against the support vectors' t^{−1}.
 */
export function withMarginGap(X: number[][], y: number[], gap: number): { X: number[][]; y: number[]; svm: SvmResult } {
  const svm = maxMarginSvm(X, y);
  const inSupport = new Set(svm.support);
  const keep = X.map((x, n) => inSupport.has(n) || y[n] * dot(x, svm.w) >= 1 + gap);
  const X2 = X.filter((_, n) => keep[n]);
  const y2 = y.filter((_, n) => keep[n]);
  return { X: X2, y: y2, svm: maxMarginSvm(X2, y2) };
}
