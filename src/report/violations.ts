import type { RunData } from './data.js';
import type { ViolationView } from './html.js';
import type { Report } from './model.js';
import { renderSvg } from '../plot.js';
import { stepSpec, trajectorySpecs } from './plots.js';

const MAX_ROWS = 6;
const short = (v: unknown) => {
  const s = JSON.stringify(v, (_k, x) => (typeof x === 'number' && !Number.isInteger(x) ? Number(x.toPrecision(4)) : x));
  return s.length > 300 ? s.slice(0, 300) + '…' : s;
};

/**
 * For every counterexample of a violated claim: a short table of the case (points, weights,
 * options), the replay command, and the plots of the violating run, replayed here from the stored
 * training job (the same run `theory3 replay` makes).
 */
export async function violationViews(report: Report, data: RunData): Promise<ViolationView[]> {
  const views: ViolationView[] = [];
  for (const claim of report.claims) {
    for (const ref of claim.counterexamples) {
      const c = data.counterexamples.find((x) => x.property === ref.property && x.id === ref.id)?.content;
      if (!c) continue;
      const rows: [string, string][] = [['failure', c.failure], ['fast-check seed / path', `${c.seed} / ${c.path}`]];
      const plots: string[] = [];
      if (c.job) {
        const { data: d, init, options, steps } = c.job;
        rows.push(
          ['points', `${d.X.length} in ${d.X[0]?.length ?? 0}-d: ${d.X.slice(0, MAX_ROWS).map((x, i) => `${short(x)}→${d.y[i]}`).join(', ')}${d.X.length > MAX_ROWS ? ', …' : ''}`],
          ['initial weights', `${init.map((W) => `${W.length}×${W[0]?.length ?? 0}`).join(', ')}: ${short(init)}`],
          ['options', `${short(options)}, ${steps} steps, check ${c.job.check}`],
        );
        try {
          const [{ useBackend }, { train }] = await Promise.all([import('../backend.js'), import('../train.js')]);
          await useBackend((c.backend ?? 'wasm') as 'wasm' | 'cpu');
          const { records } = train(d, init, options, { steps, record: c.job.record });
          const specs = [stepSpec(records), ...trajectorySpecs({ id: ref.property, records, figures: {} })].filter((x) => x !== null);
          for (const spec of specs) plots.push(await renderSvg(spec));
        } catch (e) {
          rows.push(['replay here', `failed: ${(e as Error).message}`]);
        }
      } else {
        rows.push(['input', short(c.counterexample)]);
      }
      views.push({ claim: claim.id, property: ref.property, id: ref.id, rows, replay: ref.replay, plots });
    }
  }
  return views;
}
