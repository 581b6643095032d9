import { escapeHtml as esc, formatNumber as fmt } from './format.js';
import type { ClaimEntry, ControlEntry, Evidence, Report, Verdict } from './model.js';
import type { Plot } from './plots.js';

/**
 * The report page: one self-contained HTML file (inline CSS and SVG, no script, no external
 * resource), a summary table first, then one section per claim. Reads at 1400 px and at 400 px:
 * tables scroll sideways inside their box and plots wrap and shrink to the width.
 */

/** A violated claim's counterexample as the page shows it: a short table, the replay command, the replayed run's plots. */
export interface ViolationView {
  claim: string;
  property: string;
  id: string;
  rows: [string, string][];
  replay: string;
  plots: string[];
}

const COLORS: Record<Verdict, string> = {
  holds: '#1a7f37', 'fails-as-predicted': '#1a7f37', violated: '#cf222e', 'unexpectedly-holds': '#cf222e', inconclusive: '#9a6700', 'not-run': '#6e7781',
};
const badge = (v: Verdict) => `<span class="verdict" style="background:${COLORS[v]}">${v.replace(/-/g, ' ')}</span>`;

const count = (n: number, what: string) => `${fmt(n)} ${what}${n === 1 ? '' : 's'}`;

function evidenceText(e: Evidence): string {
  const parts = [
    `${fmt(e.tests)} test${e.tests === 1 ? '' : 's'}`,
    e.cases ? count(e.cases, 'case') : '',
    e.replicates ? count(e.replicates, 'replicate') : '',
    e.checks ? count(e.checks, 'check') : '',
    e.steps ? count(e.steps, 'step') : '',
    e.maxRho !== null ? `ρ up to ${fmt(e.maxRho)}` : '',
    e.maxLogT !== null ? `log t up to ${fmt(e.maxLogT)}` : '',
  ];
  return parts.filter(Boolean).join(' · ');
}

function keyFigure(c: ClaimEntry): [string, string] {
  const f = c.figures.find((x) => x.key);
  if (!f) return ['—', ''];
  return [`${esc(f.name)}: <b>${fmt(f.value)}</b>${f.unit && f.unit !== 'steps' ? ' ' + esc(f.unit) : ''}`, esc(f.predicted ?? '')];
}

function summary(r: Report): string {
  const rows = r.claims.flatMap((c) => {
    const [figure, predicted] = keyFigure(c);
    return [
      `<tr class="claim"><td><a href="#${c.id}">${c.id}</a> ${esc(c.title)}</td><td>${badge(c.verdict)}</td><td>${evidenceText(c.evidence)}</td><td>${figure}</td><td data-label="predicted">${predicted}</td></tr>`,
      ...c.controls.map((n) => `<tr class="control"><td>↳ <code>${esc(n.id)}</code> ${esc(n.name)}</td><td>${badge(n.verdict)}</td><td>${evidenceText(n.evidence)}</td><td colspan="2">${n.counterexamples.length ? `counterexample <code>${esc(n.counterexamples[0].id)}</code>` : ''}</td></tr>`),
    ];
  });
  return `<div class="scroll"><table id="summary" class="summary"><thead><tr><th>claim / negative control</th><th>verdict</th><th>evidence (what ran)</th><th>key figure</th><th>predicted</th></tr></thead><tbody>${rows.join('')}</tbody></table></div>`;
}

function controlBlock(n: ControlEntry): string {
  const ce = n.counterexamples.map((c) => `<li>counterexample <code>${esc(c.id)}</code>: ${esc(c.failure.slice(0, 300))}<br><code class="cmd">${esc(c.replay)}</code></li>`).join('');
  return `<li><code>${esc(n.id)}</code> ${badge(n.verdict)} ${esc(n.name)} <small>(${evidenceText(n.evidence)})</small>${ce ? `<ul>${ce}</ul>` : ''}${n.tests.map((t) => (t.failure ? `<pre>${esc(t.failure.slice(0, 1500))}</pre>` : '')).join('')}</li>`;
}

function violationBlock(v: ViolationView): string {
  return `<div class="violation"><h3>Counterexample <code>${esc(v.property)}/${esc(v.id)}</code></h3>
<div class="scroll"><table>${v.rows.map(([k, val]) => `<tr><th>${esc(k)}</th><td><code>${esc(val)}</code></td></tr>`).join('')}</table></div>
<p>Replay: <code class="cmd">${esc(v.replay)}</code></p>
<div class="plots">${v.plots.map((s) => `<div class="plot">${s}</div>`).join('')}</div></div>`;
}

function section(c: ClaimEntry, plots: Plot[], violations: ViolationView[]): string {
  const figures = c.figures.map((f) => `<tr><td>${esc(f.name)}</td><td>${fmt(f.value)}${f.unit ? ' ' + esc(f.unit) : ''}</td><td>${esc(f.predicted ?? '')}</td></tr>`).join('');
  const tests = c.tests.map((t) => `<li>${t.status === 'passed' ? '✓' : '✗'} ${esc(t.title.replace(/^C\d+\b[^:]*:\s*/, ''))} <small>(${fmt(t.seconds)} s)</small>${t.failure ? `<pre>${esc(t.failure.slice(0, 2000))}</pre>` : ''}</li>`).join('');
  return `<section id="${c.id}">
<h2>${c.id} — ${esc(c.title)} ${badge(c.verdict)}</h2>
${c.statement ? `<p class="statement">${esc(c.statement)}</p>` : ''}
<p class="evidence">${evidenceText(c.evidence)} · ${fmt(c.evidence.seconds)} s${c.storeIds.length ? ` · store ids ${c.storeIds.map((s) => `<code>${esc(s)}</code>`).join(', ')}` : ''}</p>
${violations.map(violationBlock).join('\n')}
<ul class="tests">${tests}</ul>
${figures ? `<div class="scroll"><table class="figures"><thead><tr><th>figure</th><th>value</th><th>predicted</th></tr></thead><tbody>${figures}</tbody></table></div>` : ''}
${plots.length ? `<div class="plots">${plots.map((p) => `<figure class="plot" data-source="${esc(p.source)}">${p.svg}</figure>`).join('')}</div>` : ''}
${c.controls.length ? `<h3>Negative controls (must fail)</h3><ul class="controls">${c.controls.map(controlBlock).join('')}</ul>` : ''}
</section>`;
}

const CSS = `body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:1320px;margin:1.5em auto;padding:0 12px;color:#1f2328;line-height:1.4}
h1{font-size:1.6em}h2{font-size:1.25em}
.verdict{color:#fff;border-radius:4px;padding:1px 7px;font-size:.8em;white-space:nowrap}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #d0d7de;padding:3px 8px;text-align:left;vertical-align:top}
table.summary tr.control td{font-size:.9em;background:#f6f8fa}table.summary tr.control td:first-child{padding-left:1.5em}
th{background:#f6f8fa}pre{white-space:pre-wrap;word-break:break-word;background:#f6f8fa;padding:6px;font-size:.85em}
code{font-size:.9em;word-break:break-all}code.cmd{display:inline-block;background:#f6f8fa;padding:2px 4px}
section{border-top:1px solid #d0d7de;margin-top:1.5em}
.plots{display:flex;flex-wrap:wrap;gap:12px}.plot{margin:0;max-width:100%}.plot svg{max-width:100%;height:auto}
.violation{border:2px solid #cf222e;border-radius:6px;padding:0 10px;margin:.8em 0}
@media (max-width:600px){body{font-size:14px}table.summary thead{display:none}table.summary,table.summary tbody,table.summary tr,table.summary td{display:block;width:auto}
table.summary tr{border:1px solid #d0d7de;margin-bottom:6px}table.summary td{border:none;padding:2px 6px}table.summary td:empty{display:none}
table.summary td[data-label]:not(:empty)::before{content:attr(data-label) ": ";color:#57606a}}`;

export function reportHtml(r: Report, plots: Plot[], violations: ViolationView[] = []): string {
  const seeds = [...new Set(r.seeds)].join(', ');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>theory3 verification report</title><style>${CSS}</style></head>
<body><h1>Theory III verification report</h1>
<p><b>${r.ok ? 'Every claim holds and every negative control fails as predicted.' : 'NOT every claim verified: see the red verdicts.'}</b></p>
<p>profile ${esc(r.profile)} · fast-check seed ${esc(seeds)} · backend ${esc(r.backend)}${r.shards > 1 ? ` · ${r.shards} shards merged` : ''} · ${fmt(r.seconds)} s · ${esc(r.generatedAt)}</p>
${summary(r)}
<p><small>Evidence counts what ran: cases fast-check drew and completed, replicates of statistical tests, checked identities, training steps of every trainer, the largest ρ (read at steps 2^k and at the end of each training) and the largest log t (t: flow time). Negative controls are named by their counterexample-store id.</small></p>
${r.claims.map((c) => section(c, plots.filter((p) => p.claim === c.id), violations.filter((v) => v.claim === c.id))).join('\n')}
</body></html>
`;
}
