/**
 * What applying a lecture's event stream costs a browser tab: 500 events/s (chat plus
 * presence) pushed by a stand-in server to the real web app in Chromium, measured as the
 * main thread's busy time (CDP Performance.getMetrics TaskDuration) over wall time.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { browserSkipReason, launchChromium, REPO } from './harness.js';
import { startSyntheticLectern, type SyntheticLectern } from './synthetic-lectern.js';

const skip = browserSkipReason();
const RATE = 500;
const CHAT_SHARE = 0.8;
const WINDOW_MS = 10_000;

describe.skipIf(skip !== undefined)('browser CPU under a lecture-sized event stream', () => {
  let server: SyntheticLectern;
  let browser: Browser;
  beforeAll(async () => {
    [server, browser] = await Promise.all([startSyntheticLectern(), launchChromium()]);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it(`applies ${RATE} events/s to the session page and reports its CPU share`, async () => {
    const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
    const page = await context.newPage();
    await page.goto(`http://127.0.0.1:${server.port}/session/lecture`);
    await page.getByTestId('signin-name').fill('Paula');
    await page.getByTestId('signin-submit').click();
    if (process.env.LECTERN_BASELINE === '1') {
      await page.evaluate(() => history.pushState(null, '', '/'));
      await page.evaluate(() => window.dispatchEvent(new PopStateEvent('popstate')));
      await page.evaluate(() => (window as unknown as { lectern: { room(id: string): { join(): void } } }).lectern.room('session_lecture').join());
      await page.waitForTimeout(1000);
    } else await page.getByTestId('participant-count').filter({ hasText: '41' }).waitFor();
    await page.evaluate(() => {
      const w = window as unknown as { lectern: { on(type: string, fn: () => void): void }; applied: number };
      w.applied = 0;
      w.lectern.on('room_event', () => void w.applied++);
    });
    const applied = () => page.evaluate(() => (window as unknown as { applied: number }).applied);
    const cdp = await context.newCDPSession(page);
    await cdp.send('Performance.enable');
    const metrics = async () => Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
    const taskSeconds = async () => (await metrics()).TaskDuration!;
    const idleStart = { m: await metrics(), wall: performance.now() };
    await page.waitForTimeout(3000);
    const idleEnd = { m: await metrics(), wall: performance.now() };
    const idleBusy = (idleEnd.m.TaskDuration! - idleStart.m.TaskDuration!) / ((idleEnd.wall - idleStart.wall) / 1000);

    server.startLoad(RATE, CHAT_SHARE);
    await page.waitForTimeout(2000); // warm up: JIT, the chat list filling up to its cap
    const profile = process.env.LECTERN_PROFILE === '1';
    if (profile) {
      await cdp.send('Profiler.enable');
      await cdp.send('Profiler.start');
    }
    const startMetrics = await metrics();
    const start = { task: startMetrics.TaskDuration!, wall: performance.now(), applied: await applied() };
    await page.waitForTimeout(WINDOW_MS);
    const endMetrics = await metrics();
    const end = { task: endMetrics.TaskDuration!, wall: performance.now(), applied: await applied() };
    const breakdown: Record<string, number> = {};
    for (const key of Object.keys(endMetrics).filter((k) => /Duration|Count|Time/.test(k))) breakdown[key] = Math.round((endMetrics[key]! - startMetrics[key]!) * 1000) / 1000;
    server.stopLoad();
    if (profile) printTopFunctions((await cdp.send('Profiler.stop')).profile);

    const seconds = (end.wall - start.wall) / 1000;
    const figure = {
      eventsPerSecond: Math.round((end.applied - start.applied) / seconds),
      // CPU time of the page's main thread: what the tab costs, whatever else the machine runs.
      mainThreadCpuPercentOfOneCore: Math.round(((endMetrics.ThreadTime! - startMetrics.ThreadTime!) / seconds) * 1000) / 10,
      // Wall time of its tasks: inflated when the machine is oversubscribed (tasks wait for a core).
      mainThreadBusyPercentOfOneCore: Math.round(((end.task - start.task) / seconds) * 1000) / 10,
      windowSeconds: Math.round(seconds * 10) / 10,
      idleBusyPercent: Math.round(idleBusy * 1000) / 10,
      breakdown,
      chatShare: CHAT_SHARE,
      chromium: browser.version(),
    };
    console.log(`browser CPU: ${JSON.stringify(figure)}`);
    mkdirSync(join(REPO, 'services/web/test/results'), { recursive: true });
    writeFileSync(join(REPO, 'services/web/test/results/browser-cpu.json'), `${JSON.stringify(figure, null, 2)}\n`);
    await context.close();

    expect(figure.eventsPerSecond).toBeGreaterThan(RATE * 0.9);
    // The target is 20% (measured 18.4–19.6% CPU time, see the README); the assertion is a
    // regression guard with headroom, since figures belong in reports, not timed assertions.
    expect(figure.mainThreadCpuPercentOfOneCore).toBeLessThan(35);
  });
});

function printTopFunctions(profile: { nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[]; samples?: number[] }): void {
  const counts = new Map<number, number>();
  for (const id of profile.samples ?? []) counts.set(id, (counts.get(id) ?? 0) + 1);
  const byName = new Map<string, number>();
  for (const node of profile.nodes) {
    const key = `${node.callFrame.functionName || "(anonymous)"} ${node.callFrame.url.split("/").pop()}:${node.callFrame.lineNumber}`;
    byName.set(key, (byName.get(key) ?? 0) + (counts.get(node.id) ?? 0));
  }
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  const top = [...byName].sort((a, b) => b[1] - a[1]).slice(0, 20);
  console.log(top.map(([name, n]) => `${((n / total) * 100).toFixed(1)}% ${name}`).join('\n'));
}
