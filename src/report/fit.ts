/** Least-squares line y = a + b·x through the points; null with fewer than two distinct x. */
export function fitLine(points: { x: number; y: number }[]): { a: number; b: number } | null {
  const n = points.length;
  if (n < 2) return null;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const sxx = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  if (!(sxx > 0)) return null;
  const b = points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0) / sxx;
  return { a: my - b * mx, b };
}

/** Least-squares c of y = c/√N (weights 1): c = Σ y/√N ÷ Σ 1/N. */
export function fitInverseSqrt(points: { n: number; y: number }[]): number | null {
  const den = points.reduce((s, p) => s + 1 / p.n, 0);
  return points.length > 0 && den > 0 ? points.reduce((s, p) => s + p.y / Math.sqrt(p.n), 0) / den : null;
}
