/**
 * The web app in a real browser: Debian's Chromium, headless, driven by playwright-core,
 * against the real `lectern start` serving services/web/dist.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { LecternClient } from '@lectern/client';
import { browserSkipReason, launchChromium, LecternProcess, REPO } from './harness.js';

const skip = browserSkipReason();
const SCREENSHOTS = join(REPO, 'docs/screenshots');
const chatTexts = (page: Page) => page.getByTestId('chat-message').locator('.text').allTextContents();

async function signIn(context: BrowserContext, base: string, path: string, name: string, role: 'learner' | 'instructor'): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${base}${path}`);
  await page.getByTestId('signin-name').fill(name);
  await page.getByTestId(`signin-role-${role}`).check();
  await page.getByTestId('signin-submit').click();
  await page.getByTestId('connection-status').and(page.locator('[data-state="open"]')).waitFor();
  return page;
}

async function say(page: Page, text: string): Promise<void> {
  await page.getByTestId('chat-input').fill(text);
  await page.getByTestId('chat-send').click();
}

describe.skipIf(skip !== undefined)('live session in Chromium', () => {
  let server: LecternProcess;
  let browser: Browser;
  let instructor: BrowserContext;
  let learner: BrowserContext;
  let ida: Page;
  let leo: Page;
  const dialogs: string[] = [];

  beforeAll(async () => {
    [server, browser] = await Promise.all([LecternProcess.start(), launchChromium()]);
    instructor = await browser.newContext({ viewport: { width: 1200, height: 760 } });
    // The learner is on a phone.
    learner = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.dispose();
  });

  it('instructor and learner see each other join, chat both ways, and the end of the session refuses chat', async () => {
    ida = await signIn(instructor, server.base, '/session/algebra', 'Ida Instructor', 'instructor');
    for (const page of [ida]) page.on('dialog', (d) => (dialogs.push(d.message()), void d.dismiss()));
    await expect.poll(() => ida.getByTestId('participant').allTextContents()).toEqual([expect.stringContaining('Ida Instructor')]);

    leo = await signIn(learner, server.base, '/session/algebra', 'Leo Learner', 'learner');
    leo.on('dialog', (d) => (dialogs.push(d.message()), void d.dismiss()));
    await expect.poll(() => ida.getByTestId('participant').count()).toBe(2);
    await expect.poll(() => leo.getByTestId('participant').count()).toBe(2);
    await expect.poll(() => ida.getByTestId('participants').textContent()).toContain('Leo Learner');
    await expect.poll(() => leo.getByTestId('participants').textContent()).toContain('Ida Instructor');
    await expect.poll(() => ida.getByTestId('participant-count').textContent()).toBe('2');
    // Learners get no controls.
    expect(await leo.getByTestId('control-end').count()).toBe(0);

    await ida.getByTestId('control-start').click();
    await expect.poll(() => leo.getByTestId('session-state').textContent()).toBe('Live');

    await say(ida, 'Welcome! Today: quadratic equations.');
    await expect.poll(() => chatTexts(leo)).toContain('Welcome! Today: quadratic equations.');
    await say(leo, 'Hi, can you share the slides?');
    await expect.poll(() => chatTexts(ida)).toContain('Hi, can you share the slides?');
    await say(ida, 'They are in the notes, section 2.');
    await expect.poll(() => chatTexts(leo)).toContain('They are in the notes, section 2.');

    // Markup in chat is text.
    const attack = '<img src=x onerror=alert(1)>';
    await say(leo, attack);
    await expect.poll(() => chatTexts(ida)).toContain(attack);
    await expect.poll(() => chatTexts(leo)).toContain(attack);
    expect(await ida.getByTestId('chat-log').locator('img').count()).toBe(0);
    expect(await leo.getByTestId('chat-log').locator('img').count()).toBe(0);
    expect(dialogs).toEqual([]);

    mkdirSync(SCREENSHOTS, { recursive: true });
    await say(leo, 'Thanks!');
    await expect.poll(() => chatTexts(ida)).toContain('Thanks!');
    await ida.waitForTimeout(300);
    await ida.screenshot({ path: join(SCREENSHOTS, 'session-instructor.png') });
    await leo.screenshot({ path: join(SCREENSHOTS, 'session-learner-phone.png') });

    await ida.getByTestId('control-end').click();
    await expect.poll(() => leo.getByTestId('session-state').textContent()).toBe('Ended');
    await leo.getByTestId('ended-banner').waitFor();
    await say(leo, 'one more question');
    await leo.getByTestId('failed-message').filter({ hasText: 'one more question' }).waitFor();
    expect(await leo.getByTestId('failed-message').textContent()).toContain('the session has ended');
    await expect.poll(() => leo.getByTestId('toast').allTextContents()).toContainEqual(expect.stringContaining('Message not sent'));
    await ida.waitForTimeout(300);
    expect(await chatTexts(ida)).not.toContain('one more question');
    const events = await server.events('session_algebra');
    expect(events.filter((e) => e.type === 'chat_message').map((e) => e.text)).not.toContain('one more question');
  });

  it('applies 500 events/s (chat and presence) to the React view within a small share of one core', async () => {
    const room = 'session_lecture';
    const page = await signIn(learner, server.base, '/session/lecture', 'Paula Phone', 'learner');
    await expect.poll(() => page.getByTestId('participant-count').textContent()).toBe('1');
    await page.evaluate(() => {
      const w = window as unknown as { lectern: { on(type: string, fn: (e: { room: string }) => void): void }; applied: number };
      w.applied = 0;
      w.lectern.on('room_event', () => void w.applied++);
    });

    // Load: 32 talkers at 12.5 messages/s each (400/s) and 10 people who keep joining and leaving (100 events/s).
    const clients: LecternClient[] = [];
    const connect = async (i: number, kind: string) => {
      const { token } = await server.devToken(`${kind} ${i}`, 'learner', `${kind}-${i}`);
      const client = new LecternClient({ url: `ws://127.0.0.1:${server.port}/ws`, token, WebSocket: WebSocket as never, pingIntervalMs: 0, maxQueue: 10_000 });
      client.connect();
      clients.push(client);
      return client;
    };
    const talkers = await Promise.all(Array.from({ length: 32 }, (_, i) => connect(i, 'talker')));
    const churners = await Promise.all(Array.from({ length: 10 }, (_, i) => connect(i, 'churner')));
    for (const c of talkers) c.room(room).join();
    await expect.poll(() => page.getByTestId('participant-count').textContent(), { timeout: 20_000 }).toBe('33');

    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Performance.enable');
    const taskSeconds = async () => (await cdp.send('Performance.getMetrics')).metrics.find((m) => m.name === 'TaskDuration')!.value;

    let tick = 0;
    const load = setInterval(() => {
      tick++;
      for (const c of talkers) c.room(room).sendChat(`message ${tick} from ${c.getStatus().user?.id ?? '?'}`).catch(() => undefined);
      // Each churner joins on one tick and leaves on the next: 10 presence events per tick.
      for (const c of churners) {
        const r = c.room(room);
        if (tick % 2 === 1) r.join();
        else void r.leave();
      }
    }, 80);

    await page.waitForTimeout(2000); // warm up
    const start = { task: await taskSeconds(), wall: Date.now(), applied: (await page.evaluate(() => (window as unknown as { applied: number }).applied)) };
    await page.waitForTimeout(10_000);
    const end = { task: await taskSeconds(), wall: Date.now(), applied: (await page.evaluate(() => (window as unknown as { applied: number }).applied)) };
    clearInterval(load);

    const seconds = (end.wall - start.wall) / 1000;
    const eventsPerSecond = (end.applied - start.applied) / seconds;
    const cpuShare = (end.task - start.task) / seconds;
    const figure = { eventsPerSecond: Math.round(eventsPerSecond), cpuPercentOfOneCore: Math.round(cpuShare * 1000) / 10, windowSeconds: Math.round(seconds * 10) / 10, chromium: browser.version() };
    console.log(`browser CPU at load: ${JSON.stringify(figure)}`);
    mkdirSync(join(REPO, 'services/web/test/results'), { recursive: true });
    writeFileSync(join(REPO, 'services/web/test/results/browser-cpu.json'), `${JSON.stringify(figure, null, 2)}\n`);

    for (const c of clients) c.close();
    await page.close();
    expect(eventsPerSecond).toBeGreaterThan(300); // the load really arrived
    expect(cpuShare).toBeLessThan(0.2);
  });

  it('the server is restarted while the learner’s page is open: the message typed during the outage arrives once', async () => {
    const room = 'session_restart';
    const ivy = await signIn(instructor, server.base, '/session/restart', 'Ivy Instructor', 'instructor');
    const lou = await signIn(learner, server.base, '/session/restart', 'Lou Learner', 'learner');
    await expect.poll(() => ivy.getByTestId('participant-count').textContent()).toBe('2');
    await say(lou, 'before the restart');
    await expect.poll(() => chatTexts(ivy)).toContain('before the restart');

    await server.stop('SIGKILL');
    await lou.getByTestId('connection-status').and(lou.locator('[data-state="reconnecting"]')).waitFor();
    await say(lou, 'typed during the outage');
    await lou.getByTestId('pending-message').filter({ hasText: 'typed during the outage' }).waitFor();
    await expect.poll(() => lou.getByTestId('queued-count').textContent()).toContain('1 queued');
    await lou.screenshot({ path: join(SCREENSHOTS, 'session-learner-offline.png') });

    await server.start();
    await lou.getByTestId('connection-status').and(lou.locator('[data-state="open"]')).waitFor({ timeout: 30_000 });
    await expect.poll(() => chatTexts(ivy), { timeout: 30_000 }).toContain('typed during the outage');
    await expect.poll(() => lou.getByTestId('pending-message').count()).toBe(0);
    await ivy.waitForTimeout(500);
    for (const page of [ivy, lou]) {
      const texts = await chatTexts(page);
      expect(texts.filter((t) => t === 'typed during the outage')).toHaveLength(1);
      expect(texts.filter((t) => t === 'before the restart')).toHaveLength(1);
    }
    const chats = (await server.events(room)).filter((e) => e.type === 'chat_message').map((e) => e.text);
    expect(chats).toEqual(['before the restart', 'typed during the outage']);
  });
});
