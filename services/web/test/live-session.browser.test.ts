/**
 * The web app in a real browser: Debian's Chromium, headless, driven by playwright-core,
 * against the real `lectern start` serving services/web/dist.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
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
