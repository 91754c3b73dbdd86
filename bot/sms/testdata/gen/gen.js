// Writes ../segments.json: for each sample in samples.json, the encoding and
// segment count that Twilio's own calculator (npm sms-segments-calculator)
// gives. The Go tests in bot/sms must agree with every row.
//
//   cd bot/sms/testdata/gen && npm ci && node gen.js
//
// A sample is {"name", "text"} with optional "repeat" (the text is repeated
// that many times) and "prefix"/"suffix" (added once around it), so long
// texts stay readable here. segments.json holds the expanded text.
'use strict';

const fs = require('fs');
const path = require('path');
const { SegmentedMessage } = require('sms-segments-calculator');

const samples = JSON.parse(fs.readFileSync(path.join(__dirname, 'samples.json'), 'utf8'));
const seen = new Set();
const rows = samples.map((s) => {
  if (seen.has(s.name)) throw new Error(`duplicate sample name ${s.name}`);
  seen.add(s.name);
  const text = (s.prefix || '') + s.text.repeat(s.repeat || 1) + (s.suffix || '');
  const m = new SegmentedMessage(text, 'auto', false);
  return {
    name: s.name,
    text,
    encoding: m.encodingName,
    segments: m.segmentsCount,
  };
});

const version = require('sms-segments-calculator/package.json').version;
const out = { generator: `sms-segments-calculator ${version}`, rows };
fs.writeFileSync(path.join(__dirname, '..', 'segments.json'), JSON.stringify(out, null, 1) + '\n');
console.log(`wrote ${rows.length} rows`);
