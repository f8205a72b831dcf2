#!/usr/bin/env node
// A Disco worker (protocol 1.1) in Node.js with no dependencies, written from
// protocol-spec/README.md alone.
//
// What it does: copies every input of its task into local output files, one per
// label (the input's label, 0 for "all"), declares each with OUTPUT once it is
// complete, sends one MSG, then DONE. It reads raw://, http(s)://, disco://,
// dir:// (with label filtering) and local files, falls back over replicas, and
// understands RETRY, FAIL and WAIT after INPUT_ERR.
//
// Frames go to stderr (fd 2) with synchronous writes, so they are never
// interleaved or lost at exit; nothing else may be printed on stdout or stderr.
'use strict';

const fs = require('fs');
const path = require('path');
const http = require('http');
const https = require('https');

// --- framing ---------------------------------------------------------------------------------

function writeAll(fd, data) {
  let offset = 0;
  while (offset < data.length) {
    try {
      offset += fs.writeSync(fd, data, offset);
    } catch (err) {
      if (err.code !== 'EAGAIN') throw err;
    }
  }
}

function send(name, payload) {
  // The length is the payload's byte count; JSON.stringify keeps non-ASCII as UTF-8.
  const body = Buffer.from(JSON.stringify(payload), 'utf8');
  writeAll(2, Buffer.concat([Buffer.from(`${name} ${body.length} `, 'ascii'), body, Buffer.from('\n')]));
}

let input = Buffer.alloc(0);
let stdinEnded = false;
let waiting = null;

function nextFrame() {
  const nameEnd = input.indexOf(0x20);
  if (nameEnd < 0) return null;
  const lengthEnd = input.indexOf(0x20, nameEnd + 1);
  if (lengthEnd < 0) return null;
  const length = Number(input.toString('latin1', nameEnd + 1, lengthEnd));
  if (!Number.isInteger(length) || length < 0) throw new Error('bad reply length');
  const end = lengthEnd + 1 + length;
  if (input.length < end + 1) return null;
  if (input[end] !== 0x0a) throw new Error('reply not terminated by a newline');
  const frame = {
    name: input.toString('latin1', 0, nameEnd),
    payload: JSON.parse(input.toString('utf8', lengthEnd + 1, end)),
  };
  input = input.subarray(end + 1);
  return frame;
}

function pump() {
  if (!waiting) return;
  const frame = nextFrame();
  if (frame) {
    const resolve = waiting;
    waiting = null;
    resolve(frame);
  } else if (stdinEnded) {
    // The master closed stdin: no reply will ever come.
    process.exit(3);
  }
}

process.stdin.on('data', (chunk) => {
  input = input.length ? Buffer.concat([input, chunk]) : chunk;
  pump();
});
process.stdin.on('end', () => {
  stdinEnded = true;
  pump();
});
process.stdin.on('error', () => {
  stdinEnded = true;
  pump();
});

function recv() {
  return new Promise((resolve) => {
    waiting = resolve;
    pump();
  });
}

async function request(name, payload) {
  send(name, payload);
  return recv();
}

// --- reading inputs --------------------------------------------------------------------------

class ReplicaError extends Error {}

function httpGet(url, redirects = 5) {
  return new Promise((resolve, reject) => {
    const lib = url.startsWith('https:') ? https : http;
    const req = lib.get(url, { timeout: 30000 }, (res) => {
      if (res.statusCode >= 300 && res.statusCode < 400 && res.headers.location && redirects > 0) {
        res.resume();
        resolve(httpGet(new URL(res.headers.location, url).href, redirects - 1));
        return;
      }
      if (res.statusCode !== 200) {
        res.resume();
        reject(new ReplicaError(`${url}: HTTP ${res.statusCode}`));
        return;
      }
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks)));
      res.on('error', (err) => reject(new ReplicaError(`${url}: ${err.message}`)));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err) => reject(new ReplicaError(`${url}: ${err.message}`)));
  });
}

function readLocal(file) {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new ReplicaError(`${file}: ${err.code || err.message}`);
  }
}

async function fetchUrl(url, task) {
  const match = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/s.exec(url);
  if (!match) return readLocal(url);
  const [, scheme, rest] = match;
  if (scheme === 'raw') return Buffer.from(rest, 'utf8'); // verbatim, no percent-decoding
  if (scheme === 'http' || scheme === 'https') return httpGet(url);
  if (scheme === 'file') return readLocal(rest);
  if (scheme === 'disco' || scheme === 'dir') {
    const slash = rest.indexOf('/');
    const authority = slash < 0 ? rest : rest.slice(0, slash);
    const urlPath = slash < 0 ? '' : rest.slice(slash + 1);
    const host = authority.replace(/^.*@/, '').replace(/:.*$/, '');
    if (host === task.host) {
      const [first, ...tail] = urlPath.split('/');
      const base = first === 'ddfs' ? task.ddfs_data : task.disco_data;
      return readLocal(path.join(base, ...tail));
    }
    return httpGet(`http://${host}:${task.disco_port}/${urlPath}`);
  }
  throw new ReplicaError(`unsupported URL scheme ${scheme}`);
}

async function readReplica(url, label, task) {
  const data = await fetchUrl(url, task);
  if (!url.startsWith('dir://')) return data;
  const parts = [];
  for (const line of data.toString('utf8').split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 2) continue;
    if (label === 'all' || Number(fields[0]) === label) parts.push(await fetchUrl(fields[1], task));
  }
  return Buffer.concat(parts);
}

async function readInput([inputId, , label, replicas], task) {
  const failed = new Set();
  for (;;) {
    for (const [replicaId, url] of replicas) {
      try {
        return await readReplica(url, label, task);
      } catch (err) {
        if (!(err instanceof ReplicaError)) throw err;
        failed.add(replicaId);
      }
    }
    // Every replica failed. A Disco 0.5.4 master ends the task on this INPUT_ERR.
    const reply = await request('INPUT_ERR', [inputId, [...failed].sort((a, b) => a - b)]);
    if (reply.name === 'RETRY') {
      replicas = reply.payload;
    } else if (reply.name === 'WAIT') {
      await new Promise((resolve) => setTimeout(resolve, reply.payload * 1000));
    } else {
      send('ERROR', `input ${inputId}: no replica can be read`);
      process.exit(1);
    }
  }
}

// --- the task --------------------------------------------------------------------------------

async function main() {
  await request('WORKER', { version: '1.1', pid: process.pid });
  const { payload: task } = await request('TASK', '');
  const outdir = `out/${task.stage}-${task.taskid}-${process.pid}`;
  fs.mkdirSync(outdir, { recursive: true });
  const files = new Map();
  const seen = [];
  let flag = 'more';
  while (flag !== 'done') {
    const reply = await request('INPUT', ['exclude', seen]);
    const [replyFlag, entries] = reply.payload;
    flag = replyFlag;
    for (const entry of entries) {
      seen.push(entry[0]);
      if (entry[1] !== 'ok' || entry[3].length === 0) continue;
      const data = await readInput(entry, task);
      const label = entry[2] === 'all' ? 0 : entry[2];
      const file = `${outdir}/label-${label}`;
      files.set(label, file);
      fs.appendFileSync(file, data);
    }
  }
  for (const [label, file] of [...files].sort((a, b) => a[0] - b[0])) {
    await request('OUTPUT', [label, file, fs.statSync(file).size]);
  }
  await request('MSG', `node worker: ${files.size} outputs from ${seen.length} inputs`);
  send('DONE', '');
  process.exit(0);
}

main().catch((err) => {
  send('FATAL', `node worker: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
});
