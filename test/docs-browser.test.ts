// The docs page in a real browser (Debian's chromium): Swagger UI renders the document under the page's own policy.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { DELINK_PATH } from '../src/corecredit/routes';
import { ERRORS } from '../src/errors';
import { openApiDocument } from '../src/openapi/document';
import { createTestContext, type TestContext } from './helpers/context';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** What the page function uses of the browser's window (the suite compiles without the DOM types). */
type BrowserWindow = { getComputedStyle(element: unknown): { color: string } };

const chromiumPresent = existsSync(CHROMIUM);
const inCi = process.env.CI === 'true';

if (!chromiumPresent && !inCi) {
  console.warn(
    [
      '========================================================================',
      ` Docs browser test SKIPPED: no chromium at ${CHROMIUM}.`,
      ' Install it with: apt-get update && apt-get install -y chromium',
      '========================================================================',
    ].join('\n'),
  );
}

// Outside CI a machine without chromium skips this one test, with the notice above; in CI it must run, and fails.
const browserTest = chromiumPresent || inCi ? it : it.skip;

describe('the docs page in a browser', () => {
  let ctx: TestContext;
  let server: Server;
  let baseUrl: string;
  let userDataDir: string;

  beforeAll(async () => {
    ctx = await createTestContext();
    server = ctx.app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    userDataDir = mkdtempSync(join(tmpdir(), 'cc-docs-chromium-'));
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await ctx.close();
    rmSync(userDataDir, { recursive: true, force: true });
  });

  browserTest(
    'when /docs is opened, then Swagger UI renders DeLinkAccount from /openapi.json, with no policy violation and nothing fetched elsewhere',
    async () => {
      if (!chromiumPresent)
        throw new Error(`CI=true and no chromium at ${CHROMIUM}: .ci/run installs it (apt-get install -y chromium)`);
      const browser = await chromium.launchPersistentContext(userDataDir, {
        executablePath: CHROMIUM,
        args: CHROMIUM_ARGS,
        headless: true,
      });
      try {
        const page = await browser.newPage();
        const problems: string[] = [];
        const requested: string[] = [];
        page.on('console', (message) => {
          if (message.type() === 'error') problems.push(`console: ${message.text()}`);
        });
        page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
        page.on('request', (request) => requested.push(request.url()));

        const response = await page.goto(`${baseUrl}/docs`, { waitUntil: 'load' });
        expect(response?.status()).toBe(200);

        const operation = page.locator(`.opblock-summary-path[data-path="${DELINK_PATH}"]`);
        await operation.waitFor({ state: 'visible', timeout: 30_000 });
        // Swagger UI breaks long paths with zero-width spaces; the text, without them, is the path.
        expect((await operation.innerText()).replace(/\u200b/g, '')).toContain(DELINK_PATH);
        const block = page.locator('.opblock', { has: operation });
        expect(await block.innerText()).toContain(openApiDocument().paths[DELINK_PATH]?.post?.summary);
        // swagger-ui.css applied: the page's policy let the stylesheet in (#3b4151 is its text colour).
        expect(
          await page
            .locator('.swagger-ui')
            .first()
            .evaluate((element) => (globalThis as unknown as BrowserWindow).getComputedStyle(element).color),
        ).toBe('rgb(59, 65, 81)');

        // Expanded, the operation renders its parameters, request examples and responses under the same policy.
        await operation.click();
        await block.locator('.opblock-body .responses-table').first().waitFor({ state: 'visible', timeout: 10_000 });
        expect(await block.locator('.opblock-body').innerText()).toContain(ERRORS.MAIN_ACCOUNT.code);

        expect(requested).toContain(`${baseUrl}/openapi.json`);
        expect(requested.filter((url) => !url.startsWith(`${baseUrl}/`) && !url.startsWith('data:'))).toEqual([]);
        expect(problems).toEqual([]);
      } finally {
        await browser.close();
      }
    },
  );
});
