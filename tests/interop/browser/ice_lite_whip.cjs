#!/usr/bin/env node
// Interop: Chromium's WebRTC stack against ice-lite-endpoint. A headless page
// makes an RTCPeerConnection (a data channel and a recvonly audio
// transceiver, bundled), POSTs its offer to the endpoint's /whip from another
// loopback origin (a page this script serves, so CORS preflight is
// exercised; about:blank would be refused by Chromium's local network
// access rules before any request is sent), applies the answer and must reach
// iceConnectionState 'connected'. It then waits (bounded) until the
// endpoint's log says `connected` for the session: Chromium nominates a pair
// to a lite peer only on a check after the pair became writable (its
// semi-aggressive mode), which may come after iceConnectionState changed.
// Then it closes the peer connection and the browser ("the browser goes
// away"); the calling script watches the endpoint's log for consent expiry.
//   node ice_lite_whip.cjs NODE_MODULES_PARENT WHIP_URL ENDPOINT_LOG
// Prints one JSON result line (location, selected pair), then PASS or FAIL;
// exits 0 only on PASS.
'use strict';
const fs = require('fs');
const http = require('http');
const { withChromium } = require('./chromium.cjs');

const [modulesParent, whipUrl, endpointLog] = process.argv.slice(2);
if (!endpointLog) {
  console.error('usage: ice_lite_whip.cjs NODE_MODULES_PARENT WHIP_URL ENDPOINT_LOG');
  process.exit(2);
}

const kPageDeadlineMs = 30000;
const kEndpointConnectedMs = 15000;

// Polls the endpoint's JSON log for `connected` of `session`; bounded.
async function waitEndpointConnected(session) {
  const want = `"event":"connected","session":"${session}"`;
  const until = Date.now() + kEndpointConnectedMs;
  while (Date.now() < until) {
    if (fs.readFileSync(endpointLog, 'utf8').includes(want)) return true;
    await new Promise(r => setTimeout(r, 100));
  }
  return false;
}

// Runs inside the page; never throws, so the Node side can print diagnostics.
async function connectThroughWhip({ whipUrl, deadlineMs }) {
  const pc = new RTCPeerConnection();
  window.__pc = pc;
  const log = [];
  const result = { ok: false, log };
  pc.addEventListener('iceconnectionstatechange', () => log.push(`ice=${pc.iceConnectionState}`));
  pc.addEventListener('icecandidateerror', e => log.push(`icecandidateerror ${e.errorCode} ${e.errorText}`));
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`deadline of ${deadlineMs} ms passed`)), deadlineMs);
  });
  const run = async () => {
    pc.createDataChannel('uturn');
    pc.addTransceiver('audio', { direction: 'recvonly' });
    await pc.setLocalDescription();
    // Non-trickle WHIP: wait for gathering, but not forever (the lite side
    // learns the browser's addresses from its checks anyway).
    await Promise.race([
      new Promise(resolve => {
        if (pc.iceGatheringState === 'complete') return resolve();
        pc.addEventListener('icegatheringstatechange', () => {
          if (pc.iceGatheringState === 'complete') resolve();
        });
      }),
      new Promise(resolve => setTimeout(resolve, 5000)),
    ]);
    const response = await fetch(whipUrl, {
      method: 'POST',
      headers: { 'Content-Type': 'application/sdp' },
      body: pc.localDescription.sdp,
    });
    result.status = response.status;
    result.location = response.headers.get('Location');
    const answer = await response.text();
    if (response.status !== 201) throw new Error(`POST answered ${response.status}: ${answer}`);
    result.answerLines = answer.split('\r\n').filter(l => /^a=(ice-lite|candidate|setup)/.test(l));
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
    // The pair Chromium selected, to compare with the endpoint's log.
    const stats = await pc.getStats();
    let transport;
    stats.forEach(s => { if (s.type === 'transport' && s.selectedCandidatePairId) transport = s; });
    const pair = transport && stats.get(transport.selectedCandidatePairId);
    const local = pair && stats.get(pair.localCandidateId);
    const remote = pair && stats.get(pair.remoteCandidateId);
    result.selected = pair && {
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

// An empty page on another origin (another port) than the endpoint's.
function servePage() {
  return new Promise(resolve => {
    const server = http.createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<!doctype html><title>whip</title>');
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
      const r = await page.evaluate(connectThroughWhip, { whipUrl, deadlineMs: kPageDeadlineMs });
      if (r.ok) {
        r.endpointConnected = await waitEndpointConnected(r.location.split('/').pop());
        r.iceStateAfter = await page.evaluate(() => window.__pc.iceConnectionState);
      }
      // The browser goes away: the peer connection stops sending checks.
      await page.evaluate(() => window.__pc.close());
      return r;
    });
  } finally {
    pageServer.close();
  }
  console.log(JSON.stringify(result));
  const problems = [];
  if (!result.ok) problems.push(`did not connect: ${result.error}`);
  if (!result.answerLines || !result.answerLines.includes('a=ice-lite')) problems.push('answer has no a=ice-lite');
  if (!result.location || !/^\/whip\/[0-9a-f]+$/.test(result.location)) problems.push(`bad Location ${result.location}`);
  if (result.ok && !result.selected) problems.push('getStats() has no selected pair');
  if (result.ok && !result.endpointConnected) problems.push('the endpoint never logged connected');
  if (problems.length) {
    for (const p of problems) console.error(`FAIL: ${p}`);
    process.exitCode = 1;
  } else {
    console.log(`PASS: Chromium reached iceConnectionState ${result.iceConnectionState} against ${whipUrl}`);
  }
}

main().catch(e => {
  console.error(`FAIL: ${e && e.stack || e}`);
  process.exit(1);
});
