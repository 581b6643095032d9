// Minimal types for quadprog 1.6.1 (a CommonJS port of R's quadprog, shipped without types).
// Arrays are 1-indexed like the Fortran original: element 0 is unused.
declare module 'quadprog' {
  export interface QPResult {
    /** Minimiser b, 1-indexed. Absent when `message` reports a bad argument. */
    solution?: number[];
    /** Multipliers, one per constraint (column of Amat), 1-indexed; 0 for inactive constraints. */
    Lagrangian?: number[];
    /** value[1] is the objective at the solution. */
    value?: number[];
    unconstrained_solution?: number[];
    iterations?: number[];
    /** iact[1..] holds the (1-based) indices of active constraints, 0-padded. */
    iact?: number[];
    /** '' on success; e.g. 'constraints are inconsistent, no solution!'. */
    message: string;
  }
  /**
   * Minimise -dvec·b + ½ bᵀ Dmat b subject to Amatᵀ b >= bvec (first `meq` as equalities).
   * Dmat is n×n, Amat is n×q (constraints are columns). Overwrites Dmat and dvec in place.
   */
  export function solveQP(
    Dmat: number[][],
    dvec: number[],
    Amat: number[][],
    bvec?: number[],
    meq?: number,
    factorized?: number[],
  ): QPResult;
}
