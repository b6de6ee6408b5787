// bench/cdr_export.mjs — GET /api/v1/cdrs/export of N charge detail records (100,000 by
// default), as CSV and as JSON lines, read by a client as fast as it can: the time, the
// bytes, and the daemon's memory (VmRSS sampled every 20 ms, and VmHWM) before and during
// the export, so "constant memory" is a figure, not a claim. A slow reader is measured
// too (it reads 64 KiB every 10 ms), the case where buffering would grow.
//   PIPELET_TEST_PGURL=... PIPELET_BUILD_DIR=build node bench/cdr_export.mjs [--records=100000]
// Prints one JSON object.
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { startGateway, psql } from '../tests/integration/lib/harness.mjs';

const arg = (n, d) => Number(process.argv.find((a) => a.startsWith(`--${n}=`))?.split('=')[1] ?? d);
const records = arg('records', 100000);

const gw = await startGateway({ plugins: ['headless'], config: { http: { rate_limit: 1000000, rate_burst: 1000000 } } });
psql(gw.database, `insert into cdrs (transaction_id, station_id, station_tx_id, id_token, started_at, stopped_at,
  energy_wh, charging_seconds, parking_seconds, currency, total_excl_vat, total_incl_vat, tariff, components, status)
  select g, 'BENCH-' || (g % 1000), 'tx' || g, 'TAG-' || (g % 5000), now() - interval '2 hours', now() - interval '1 hour',
         1000 + g % 50000, 3600, 600, 'EUR', 12.34, 14.68,
         '{"currency":"EUR","elements":[{"price_components":[{"type":"ENERGY","price":"0.39","vat":"19"}]}]}'::jsonb,
         '[{"type":"ENERGY","excl_vat":"12.34","incl_vat":"14.68"}]'::jsonb, 'priced'
  from generate_series(1, ${records}) g`);

const kb = (field) => Number(readFileSync(`/proc/${gw.proc.pid}/status`, 'utf8').match(new RegExp(`${field}:\\s+(\\d+)`))[1]);

async function run(format, slow) {
  const before = kb('VmRSS');
  let peak = before;
  const sampler = setInterval(() => { peak = Math.max(peak, kb('VmRSS')); }, 20);
  const t0 = process.hrtime.bigint();
  const url = new URL(`${gw.http}/api/v1/cdrs/export?format=${format}`);
  const { bytes, lines } = await new Promise((resolve, reject) => {
    const rq = request({ host: url.hostname, port: url.port, path: url.pathname + url.search, headers: { 'X-API-Key': gw.keys.read } }, (res) => {
      let n = 0, nl = 0;
      res.on('data', (c) => {
        n += c.length;
        for (const b of c) if (b === 10) nl++;
        if (slow) { res.pause(); setTimeout(() => res.resume(), 10); }
      });
      res.on('end', () => resolve({ bytes: n, lines: nl }));
    });
    if (slow) rq.on('socket', (s) => s.setRecvBufferSize?.(65536));
    rq.on('error', reject);
    rq.end();
  });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  clearInterval(sampler);
  return { format, slow_reader: slow, records: lines - (format === 'csv' ? 1 : 0), seconds: +seconds.toFixed(2),
    records_per_s: Math.round((lines - 1) / seconds), mib: +(bytes / 1048576).toFixed(1),
    rss_kib_before: before, rss_kib_peak: peak, rss_kib_growth: peak - before };
}

const out = { records, runs: [await run('csv', false), await run('jsonl', false), await run('csv', true)], vm_hwm_kib: kb('VmHWM') };
console.log(JSON.stringify(out, null, 2));
await gw.stop();
