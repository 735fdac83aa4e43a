// Debian's headless Chromium through playwright-core, as the interop pages
// use it: a fresh profile directory per run, removed afterwards.
//   const { withChromium } = require('./chromium.cjs');
//   await withChromium(modulesParent, async (page) => { ... });
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');

async function withChromium(modulesParent, body) {
  const { chromium } = require(require.resolve('playwright-core', { paths: [modulesParent] }));
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'uturn-chromium-'));
  let context;
  try {
    // Playwright refuses --user-data-dir among args; launchPersistentContext
    // is how it takes a (fresh) profile directory.
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      timeout: 30000,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const page = context.pages()[0] || await context.newPage();
    return await body(page);
  } finally {
    if (context) await context.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
}

module.exports = { withChromium };
