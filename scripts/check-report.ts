/**
 * Opens report/index.html in headless Chromium (Debian package `chromium`; or set CHROMIUM) and
 * checks that the page renders its plots: the DOM Chromium built holds as many rendered SVG
 * charts (with drawn marks) as the report has plots, and a screenshot is saved beside it.
 * Usage: npm run verify:browser [-- report/index.html]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const page = resolve(process.argv[2] ?? 'report/index.html');
const chromium = process.env.CHROMIUM ?? '/usr/bin/chromium';
if (!existsSync(page)) fail(`${page} does not exist: run npm run verify first`);
if (!existsSync(chromium)) fail(`no Chromium at ${chromium}: apt-get install chromium, or set CHROMIUM`);

// Flags for a closed network and a root user (see the machine notes): no sandbox, no background traffic.
const profile = mkdtempSync(join(tmpdir(), 'theory3-chromium-'));
const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`];
try {
  const url = `file://${page}`;
  const dom = execFileSync(chromium, [...flags, '--dump-dom', url], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 60_000 });
  const expected = (readFileSync(page, 'utf8').match(/<div class="plot">/g) ?? []).length;
  const rendered = (dom.match(/<div class="plot"><svg[^>]*class="marks"/g) ?? []).length;
  const paths = (dom.match(/<path /g) ?? []).length;
  const shot = join(dirname(page), 'screenshot.png');
  execFileSync(chromium, [...flags, `--screenshot=${shot}`, '--window-size=1200,4000', url], { stdio: 'ignore', timeout: 60_000 });
  if (expected === 0) fail('the report has no plots');
  if (rendered !== expected || paths < 4 * expected) fail(`Chromium rendered ${rendered} of ${expected} plots (${paths} paths)`);
  process.stderr.write(`theory3: ${rendered} plots render in Chromium (${paths} drawn paths); screenshot ${shot}\n`);
} finally {
  rmSync(profile, { recursive: true, force: true });
}

function fail(message: string): never {
  process.stderr.write(`theory3: ${message}\n`);
  process.exit(1);
}
