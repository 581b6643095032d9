/**
 * Opens report/index.html in headless Chromium (Debian package `chromium`, driven by
 * playwright-core; or set CHROMIUM) at 1400 px and at 400 px wide, saves a full-page screenshot of
 * each beside the report, and checks that the page renders: the summary table is laid out with a
 * row per claim and per control, every plot of the page is an SVG drawn with marks and a visible
 * size, and nothing is wider than the window (no sideways scroll of the page itself).
 * Usage: npm run verify:browser [-- report/index.html]
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

const page = resolve(process.argv[2] ?? 'report/index.html');
const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
if (!existsSync(page)) fail(`${page} does not exist: run npm run verify first`);
if (!existsSync(executablePath)) fail(`no Chromium at ${executablePath}: apt-get install chromium, or set CHROMIUM`);

const html = readFileSync(page, 'utf8');
const expectedPlots = (html.match(/<figure class="plot"/g) ?? []).length;
const expectedRows = (html.match(/<tr class="(claim|control)"/g) ?? []).length;
if (expectedPlots === 0) fail('the report has no plots');
if (/\b(src|href)="(https?:)?\/\//.test(html)) fail('the report links an external resource; it must be self-contained');

// Flags for a closed network and a root user: no sandbox, no background traffic.
const browser = await chromium.launch({
  executablePath,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  for (const width of [1400, 400]) {
    const context = await browser.newContext({ viewport: { width, height: 900 }, offline: true });
    const tab = await context.newPage();
    await tab.goto(`file://${page}`);
    const seen = await tab.evaluate(() => {
      const rows = [...document.querySelectorAll('#summary tr.claim, #summary tr.control')].filter((r) => r.getBoundingClientRect().height > 0).length;
      const plots = [...document.querySelectorAll('figure.plot svg')].filter((s) => {
        const b = s.getBoundingClientRect();
        return b.width > 100 && b.height > 80 && s.querySelectorAll('path').length >= 4;
      }).length;
      return { rows, plots, pageWidth: document.documentElement.scrollWidth };
    });
    const shot = join(dirname(page), `screenshot-${width}.png`);
    await tab.screenshot({ path: shot, fullPage: true });
    if (seen.rows !== expectedRows) fail(`at ${width} px the summary table shows ${seen.rows} of ${expectedRows} rows`);
    if (seen.plots !== expectedPlots) fail(`at ${width} px ${seen.plots} of ${expectedPlots} plots render`);
    if (seen.pageWidth > width + 1) fail(`at ${width} px the page is ${seen.pageWidth} px wide (scrolls sideways)`);
    process.stderr.write(`theory3: ${width} px: summary ${seen.rows} rows, ${seen.plots} plots render; screenshot ${shot}\n`);
    await context.close();
  }
} finally {
  await browser.close();
}

function fail(message: string): never {
  process.stderr.write(`theory3: ${message}\n`);
  process.exit(1);
}
