#!/usr/bin/env node
// Interop: Chromium's WebRTC stack (a full ICE agent, controlling: it makes
// the offer) against `uturn-ice --controlled --http` (a full agent too, never
// ice-lite). A headless page makes an RTCPeerConnection with one data
// channel, waits for iceGatheringState 'complete' (non-trickle), POSTs the
// offer to uturn-ice's /offer from another loopback origin (a page this script
// serves: about:blank would be refused by Chromium's local network access
// rules), applies the answer and must reach iceConnectionState 'connected'.
// It reports the pair getStats() names as selected; the calling script
// compares it with uturn-ice's event=selected. DTLS is not run: the data
// channel never opens, and is not expected to.
//   node ice_full_offer.cjs NODE_MODULES_PARENT OFFER_URL
// Prints one JSON result line, then PASS or FAIL; exits 0 only on PASS.
'use strict';
const http = require('http');
const { withChromium } = require('./chromium.cjs');

const [modulesParent, offerUrl] = process.argv.slice(2);
if (!offerUrl) {
  console.error('usage: ice_full_offer.cjs NODE_MODULES_PARENT OFFER_URL');
  process.exit(2);
}

const kPageDeadlineMs = 30000;
const kGatheringMs = 10000;

// Runs inside the page; never throws, so the Node side can print diagnostics.
async function connectThroughOffer({ offerUrl, deadlineMs, gatheringMs }) {
  const pc = new RTCPeerConnection();
  window.__pc = pc;
  const log = [];
  const result = { ok: false, log };
  pc.addEventListener('iceconnectionstatechange', () => log.push(`ice=${pc.iceConnectionState}`));
  pc.addEventListener('icegatheringstatechange', () => log.push(`gathering=${pc.iceGatheringState}`));
  pc.addEventListener('icecandidateerror', e => log.push(`icecandidateerror ${e.errorCode} ${e.errorText}`));
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`deadline of ${deadlineMs} ms passed`)), deadlineMs);
  });
  const run = async () => {
    pc.createDataChannel('uturn');
    await pc.setLocalDescription();
    // Non-trickle: the offer goes out with every candidate, once gathering
    // is complete (bounded: a missing 'complete' is a failure, not a wait).
    await new Promise((resolve, reject) => {
      if (pc.iceGatheringState === 'complete') return resolve();
      const t = setTimeout(() => reject(new Error('gathering not complete')), gatheringMs);
      pc.addEventListener('icegatheringstatechange', () => {
        if (pc.iceGatheringState === 'complete') { clearTimeout(t); resolve(); }
      });
    });
    result.offerCandidates = pc.localDescription.sdp.split('\r\n').filter(l => l.startsWith('a=candidate'));
    const response = await fetch(offerUrl, {
      method: 'POST',
      headers: { 'Content-Type': 'application/sdp' },
      body: pc.localDescription.sdp,
    });
    result.status = response.status;
    const answer = await response.text();
    if (response.status !== 200) throw new Error(`POST answered ${response.status}: ${answer}`);
    result.answerLines = answer.split('\r\n').filter(l => /^a=(ice-|candidate|end-of-candidates|setup)/.test(l));
    await pc.setRemoteDescription({ type: 'answer', sdp: answer });
    if (!['connected', 'completed'].includes(pc.iceConnectionState)) {
      await new Promise((resolve, reject) => {
        pc.addEventListener('iceconnectionstatechange', () => {
          if (['connected', 'completed'].includes(pc.iceConnectionState)) resolve();
          if (pc.iceConnectionState === 'failed') reject(new Error('ICE failed'));
        });
      });
    }
    result.iceConnectionState = pc.iceConnectionState;
    // The pair Chromium selected, for the script to compare with uturn-ice's.
    const stats = await pc.getStats();
    let transport;
    stats.forEach(s => { if (s.type === 'transport' && s.selectedCandidatePairId) transport = s; });
    const pair = transport && stats.get(transport.selectedCandidatePairId);
    const local = pair && stats.get(pair.localCandidateId);
    const remote = pair && stats.get(pair.remoteCandidateId);
    result.selected = pair && {
      state: pair.state,
      nominated: pair.nominated,
      local: local && { type: local.candidateType, address: local.address, port: local.port, protocol: local.protocol },
      remote: remote && { type: remote.candidateType, address: remote.address, port: remote.port, protocol: remote.protocol },
    };
  };
  try {
    await Promise.race([run(), deadline]);
    result.ok = true;
  } catch (e) {
    result.error = String(e);
    result.iceConnectionState = pc.iceConnectionState;
    result.offer = pc.localDescription && pc.localDescription.sdp;
  } finally {
    clearTimeout(timer);
  }
  return result;
}

// An empty page on another origin (another port) than uturn-ice's.
function servePage() {
  return new Promise(resolve => {
    const server = http.createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<!doctype html><title>uturn-ice</title>');
    });
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

async function main() {
  const pageServer = await servePage();
  const pageUrl = `http://127.0.0.1:${pageServer.address().port}/`;
  let result;
  try {
    result = await withChromium(modulesParent, async (page) => {
      await page.goto(pageUrl);
      const r = await page.evaluate(connectThroughOffer,
        { offerUrl, deadlineMs: kPageDeadlineMs, gatheringMs: kGatheringMs });
      await page.evaluate(() => window.__pc.close());
      return r;
    });
  } finally {
    pageServer.close();
  }
  console.log(JSON.stringify(result));
  const problems = [];
  if (!result.ok) problems.push(`did not connect: ${result.error}`);
  if (result.answerLines && result.answerLines.includes('a=ice-lite')) problems.push('uturn-ice answered as a lite agent');
  if (result.ok && !(result.selected && result.selected.remote && result.selected.local)) {
    problems.push('getStats() has no selected pair');
  }
  if (problems.length) {
    for (const p of problems) console.error(`FAIL: ${p}`);
    process.exitCode = 1;
  } else {
    console.log(`PASS: Chromium reached iceConnectionState ${result.iceConnectionState} against ${offerUrl}`);
  }
}

main().catch(e => {
  console.error(`FAIL: ${e && e.stack || e}`);
  process.exit(1);
});
