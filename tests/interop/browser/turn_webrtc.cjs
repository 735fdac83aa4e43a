#!/usr/bin/env node
// Interop: Chromium's own WebRTC stack relays through our TURN server.
// Two RTCPeerConnections in one headless page, both with iceTransportPolicy
// 'relay' (so the only candidates are TURN relayed ones), negotiate a data
// channel and exchange messages both ways. We require every message to arrive
// in order and getStats() to report a selected pair whose local and remote
// candidates are both of type relay, and whose local candidate reached the
// TURN server over RELAY_PROTOCOL (getStats' relayProtocol: udp for
// turn:HOST:PORT, tcp for turn:HOST:PORT?transport=tcp).
//   node turn_webrtc.cjs NODE_MODULES_PARENT TURN_URL USERNAME PASSWORD [RELAY_PROTOCOL]
// Prints one JSON result line, then PASS or FAIL; exits 0 only on PASS.
'use strict';
const { withChromium } = require('./chromium.cjs');

const [modulesParent, turnUrl, username, credential, relayProtocol = 'udp'] = process.argv.slice(2);
if (!credential || !['udp', 'tcp'].includes(relayProtocol)) {
  console.error('usage: turn_webrtc.cjs NODE_MODULES_PARENT TURN_URL USERNAME PASSWORD [udp|tcp]');
  process.exit(2);
}

const kMessages = 50;           // per direction
const kPageDeadlineMs = 30000;  // the whole negotiation and exchange

// Runs inside the page. Returns a plain object describing what happened; never
// throws, so the Node side can print the diagnostics.
async function exchangeThroughTurn({ turnUrl, username, credential, count, deadlineMs }) {
  const cfg = { iceServers: [{ urls: turnUrl, username, credential }], iceTransportPolicy: 'relay' };
  const a = new RTCPeerConnection(cfg);
  const b = new RTCPeerConnection(cfg);
  const log = [];
  for (const [name, pc] of [['a', a], ['b', b]]) {
    pc.addEventListener('icecandidateerror', e =>
      log.push(`${name} icecandidateerror ${e.errorCode} ${e.errorText} ${e.url}`));
    pc.addEventListener('iceconnectionstatechange', () => log.push(`${name} ice=${pc.iceConnectionState}`));
  }
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`deadline of ${deadlineMs} ms passed`)), deadlineMs);
  });
  // Full (non-trickle) offer/answer: wait until each side has gathered, so
  // its description carries its relayed candidates.
  const gathered = pc => new Promise(resolve => {
    if (pc.iceGatheringState === 'complete') return resolve();
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'complete') resolve();
    });
  });
  const received = { a: [], b: [] };
  const result = { ok: false, log, received };
  try {
    const dcA = a.createDataChannel('uturn', { ordered: true });
    const dcBReady = new Promise(resolve => b.addEventListener('datachannel', e => resolve(e.channel)));
    const run = async () => {
      await a.setLocalDescription();
      await gathered(a);
      await b.setRemoteDescription(a.localDescription);
      await b.setLocalDescription();
      await gathered(b);
      await a.setRemoteDescription(b.localDescription);
      result.offerCandidates = a.localDescription.sdp.split('\r\n').filter(l => l.startsWith('a=candidate'));
      result.answerCandidates = b.localDescription.sdp.split('\r\n').filter(l => l.startsWith('a=candidate'));
      const dcB = await dcBReady;
      if (dcA.readyState !== 'open') await new Promise(r => dcA.addEventListener('open', r, { once: true }));
      if (dcB.readyState !== 'open') await new Promise(r => dcB.addEventListener('open', r, { once: true }));
      const allIn = (dc, into) => new Promise(resolve => {
        dc.addEventListener('message', e => {
          into.push(e.data);
          if (into.length === count) resolve();
        });
      });
      const aDone = allIn(dcA, received.a);
      const bDone = allIn(dcB, received.b);
      for (let i = 0; i < count; i++) {
        dcA.send(`a->b ${i}`);
        dcB.send(`b->a ${i}`);
      }
      await Promise.all([aDone, bDone]);
      // The pair ICE actually uses: the transport's selectedCandidatePairId.
      result.selected = {};
      for (const [name, pc] of [['a', a], ['b', b]]) {
        const stats = await pc.getStats();
        let transport;
        stats.forEach(s => { if (s.type === 'transport' && s.selectedCandidatePairId) transport = s; });
        const pair = transport && stats.get(transport.selectedCandidatePairId);
        const local = pair && stats.get(pair.localCandidateId);
        const remote = pair && stats.get(pair.remoteCandidateId);
        result.selected[name] = {
          state: pair && pair.state,
          local: local && { type: local.candidateType, address: local.address, port: local.port, relayProtocol: local.relayProtocol, url: local.url },
          remote: remote && { type: remote.candidateType, address: remote.address, port: remote.port },
        };
      }
    };
    await Promise.race([run(), deadline]);
    result.ok = true;
  } catch (e) {
    result.error = String(e);
    result.iceStates = { a: a.iceConnectionState, b: b.iceConnectionState };
    // What each side's stack saw, to tell a relay that lost packets from a
    // browser that did not deliver them: transport bytes, data-channel
    // messages, and the state of every candidate pair.
    result.diagnostics = {};
    for (const [name, pc] of [['a', a], ['b', b]]) {
      const d = { transports: [], dataChannels: [], pairs: [] };
      try {
        const stats = await pc.getStats();
        stats.forEach(s => {
          if (s.type === 'transport') {
            d.transports.push({ bytesSent: s.bytesSent, bytesReceived: s.bytesReceived,
              dtlsState: s.dtlsState, selectedCandidatePairId: s.selectedCandidatePairId });
          } else if (s.type === 'data-channel') {
            d.dataChannels.push({ state: s.state, messagesSent: s.messagesSent,
              messagesReceived: s.messagesReceived, bytesReceived: s.bytesReceived });
          } else if (s.type === 'candidate-pair') {
            d.pairs.push({ state: s.state, nominated: s.nominated, bytesSent: s.bytesSent,
              bytesReceived: s.bytesReceived });
          }
        });
      } catch (statsError) {
        d.error = String(statsError);
      }
      result.diagnostics[name] = d;
    }
  } finally {
    clearTimeout(timer);
    a.close();
    b.close();
  }
  return result;
}

function check(result) {
  const problems = [];
  if (!result.ok) problems.push(`exchange failed: ${result.error}`);
  for (const side of ['a', 'b']) {
    const other = side === 'a' ? 'b' : 'a';
    const want = Array.from({ length: kMessages }, (_, i) => `${other}->${side} ${i}`);
    const got = result.received[side];
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      problems.push(`${side} received ${got.length}/${kMessages} messages, or out of order`);
    }
    const sel = result.selected && result.selected[side];
    if (!sel || !sel.local || !sel.remote) {
      problems.push(`${side}: getStats() has no selected candidate pair`);
    } else if (sel.local.type !== 'relay' || sel.remote.type !== 'relay') {
      problems.push(`${side}: selected pair is ${sel.local.type}/${sel.remote.type}, not relay/relay`);
    } else if (sel.local.relayProtocol !== relayProtocol) {
      problems.push(`${side}: local relay candidate's relayProtocol is ${sel.local.relayProtocol}, not ${relayProtocol}`);
    }
  }
  for (const [name, lines] of [['offer', result.offerCandidates], ['answer', result.answerCandidates]]) {
    if (!lines || lines.length === 0 || !lines.every(l => / typ relay( |$)/.test(l))) {
      problems.push(`${name} candidates are not all relayed: ${JSON.stringify(lines)}`);
    }
  }
  return problems;
}

async function main() {
  await withChromium(modulesParent, async (page) => {
    await page.goto('about:blank');
    const result = await page.evaluate(exchangeThroughTurn,
      { turnUrl, username, credential, count: kMessages, deadlineMs: kPageDeadlineMs });
    const problems = check(result);
    // The full result (every message) only when something is wrong.
    const shown = problems.length ? result
      : { ...result, received: { a: result.received.a.length, b: result.received.b.length } };
    console.log(JSON.stringify(shown));
    if (problems.length) {
      for (const p of problems) console.error(`FAIL: ${p}`);
      process.exitCode = 1;
    } else {
      console.log(`PASS: ${kMessages} messages each way over a relay/relay pair through ${turnUrl} (relayProtocol ${relayProtocol})`);
    }
  });
}

main().catch(e => {
  console.error(`FAIL: ${e && e.stack || e}`);
  process.exit(1);
});
