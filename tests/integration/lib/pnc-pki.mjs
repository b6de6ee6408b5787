// pnc-pki.mjs — an ISO 15118 Plug & Charge PKI made with the openssl tool (EC P-256,
// sha256), with real `openssl ocsp` responders, for the Plug & Charge tests:
//
//   V2G Root CA -> CPO Sub1 (pathlen 1) -> CPO Sub2 (pathlen 0) -> SECC leaves (CN = station id)
//   MO Root CA  -> MO Sub1  (pathlen 1) -> MO Sub2  (pathlen 0) -> contract leaves (CN = eMAID)
//   OEM Root CA (self-signed only);  Rogue Root -> rogue contract leaves
//
//   const pki = await makePncPki(dir);     // async: it picks the responder ports first
//   pki.dir, pki.path(name), pki.file(name) (Buffer), pki.pem(name) (string)
//   pki.cpoChain() / pki.moChain()          // PEM: sub2 then sub1 (leaf and root excluded)
//   pki.secc(stationId, { days = 30 })      // -> { pem, key, csr, file, name, serial }
//   pki.contract(emaid, { revoked = false, expired = false, issuer = 'mo-sub2', days = 365 })
//                                           // -> { pem, key, file, name, serial }
//   pki.revoke(name | { name }, reason?)    // `openssl ca -revoke` + restart of that responder
//   pki.hashData(name | pem | { pem }, issuerName?)
//       // -> { hashAlgorithm: 'SHA256', issuerNameHash, issuerKeyHash, serialNumber, responderURL }
//       // all hex LOWERCASE; serialNumber without leading zeros; responderURL '' if no AIA.
//       // (OCPP CertificateHashDataType has no responderURL: `const { responderURL, ...h } = ...`)
//   await pki.startOcsp(issuer?)            // all (or one) responders; resolves once they accept
//   pki.stopOcsp(issuer?)                   // sync (SIGKILL), idempotent; on return the port refuses
//   pki.ocspUrl(issuer)                     // 'http://127.0.0.1:<port>/'
//   await pki.close()                       // stops the responders, removes dir
//
// Files in dir: v2g-root, cpo-sub1, cpo-sub2, mo-root, mo-sub1, mo-sub2, oem-root, rogue-root
// (.pem/.key); secc-<station>.pem/.key/.csr; contract-<emaid>.pem/.key; rogue leaves are
// contract-<emaid>.pem too. Each issuing CA keeps an `openssl ca` database in db/<ca>/
// (index.txt, serial, ca.cnf); the responder logs go to db/<ca>/ocsp.log.
//
// Every non-root certificate has authorityInfoAccess=OCSP;URI:<its issuer's responder>.
// Responders run for every issuing CA: v2g-root, cpo-sub1, cpo-sub2, mo-root, mo-sub1,
// mo-sub2 (not for rogue-root: a rogue contract claims mo-sub2's OCSP URL, whose responder
// answers "unknown" for it). Responders run with -ignore_err; do not probe them with bare
// TCP connects (see READY below). `openssl ocsp` reads its index only at start, so a revocation
// (contract({ revoked: true }) or revoke()) restarts the issuer's responder, if it runs,
// synchronously, before returning; revoking before startOcsp() works as well.
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join, resolve } from 'node:path';

const ROOTS = { 'v2g-root': 'V2G Root CA', 'mo-root': 'MO Root CA', 'oem-root': 'OEM Root CA', 'rogue-root': 'Rogue Root' };
const SUBS = [ // name, CN, issuer, pathlen, days
  ['cpo-sub1', 'CPO Sub1', 'v2g-root', 1, 1460], ['cpo-sub2', 'CPO Sub2', 'cpo-sub1', 0, 730],
  ['mo-sub1', 'MO Sub1', 'mo-root', 1, 1460], ['mo-sub2', 'MO Sub2', 'mo-sub1', 0, 730],
];
const ISSUERS = ['v2g-root', 'cpo-sub1', 'cpo-sub2', 'mo-root', 'mo-sub1', 'mo-sub2', 'rogue-root'];
const RESPONDERS = ISSUERS.filter((n) => n !== 'rogue-root');
const CA_EXT = 'subjectKeyIdentifier=hash\nkeyUsage=critical,keyCertSign,cRLSign';
const LEAF_EXT = 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyAgreement\n' +
  'subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid';

// free TCP ports: listen on port 0 (all at once, so they differ), then close
async function freePorts(n) {
  const servers = await Promise.all(Array.from({ length: n }, () => new Promise((ok, fail) => {
    const s = net.createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => ok(s));
  })));
  const ports = servers.map((s) => s.address().port);
  await Promise.all(servers.map((s) => new Promise((ok) => s.close(ok))));
  return ports;
}

// Readiness is read from the responder's log ("waiting for OCSP client connections", printed
// once it listens), never probed by connecting: a connection closed without a request makes
// `openssl ocsp` 3.0 spin at 100% CPU and never answer again.
const READY = 'waiting for OCSP client connections';
const sleepSync = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

const logFrom = (log, from) => { try { return readFileSync(log).subarray(from).toString(); } catch { return ''; } };
// true once a (SIGKILLed) process has exited: gone or a zombie, so its sockets are closed
const deadSync = (pid, ms = 3000) => {
  if (!existsSync('/proc/self/stat')) { sleepSync(100); return true; }
  for (const end = Date.now() + ms; Date.now() < end; sleepSync(5)) {
    let stat;
    try { stat = readFileSync(`/proc/${pid}/stat`, 'utf8'); } catch { return true; }
    if (/^\d+ \(.*\) [ZX]/s.test(stat)) return true;
  }
  return false;
};

// responders still running when the test process ends (close() never called, an exception,
// SIGINT/SIGTERM from the test runner) are killed then: they are not tied to this process
const liveStops = new Set();
const stopAll = () => { for (const stop of liveStops) stop(); };
let hooked = false;
function hookExit() {
  if (hooked) return;
  hooked = true;
  process.on('exit', stopAll);
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.once(sig, function onSignal() {
      stopAll();
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig); // the default: die of it
    });
  }
}

// DER: one TLV at off -> { tag, end, value }; the children of a constructed value
function tlv(buf, off) {
  const tag = buf[off];
  let len = buf[off + 1], hdr = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[off + 2 + i];
    hdr += n;
  }
  return { tag, start: off, end: off + hdr + len, value: buf.subarray(off + hdr, off + hdr + len) };
}
function children(buf) {
  const out = [];
  for (let off = 0; off < buf.length; off = out[out.length - 1].end) out.push(tlv(buf, off));
  return out;
}
// the fields of a certificate that OCSP CertID is made of
function certFields(pem) {
  const x = new X509Certificate(pem);
  const tbs = children(tlv(x.raw, 0).value)[0];
  const f = children(tbs.value);
  const i = f[0].tag === 0xa0 ? 1 : 0; // [0] version
  const field = (k) => tbs.value.subarray(f[i + k].start, f[i + k].end);
  const spki = children(f[i + 5].value);
  const aia = (x.infoAccess || '').match(/OCSP - URI:(\S+)/);
  return {
    serial: f[i].value, issuerDer: field(2), subjectDer: field(4),
    keyBits: spki[1].value.subarray(1), // BIT STRING contents without the unused-bits octet
    ocspUrl: aia ? aia[1] : '',
  };
}
const sha256hex = (b) => createHash('sha256').update(b).digest('hex');
// INTEGER contents -> lowercase hex without leading zeros (as OCPP wants the serial)
const serialHex = (b) => b.toString('hex').replace(/^0+(?=.)/, '');

const subjEsc = (s) => String(s).replace(/[\\/=+]/g, (c) => `\\${c}`);
const fileSafe = (s) => String(s).replace(/[^A-Za-z0-9._-]/g, '_');
const asn1Time = (d) => `${d.toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;

export async function makePncPki(dir) {
  dir = resolve(dir);
  mkdirSync(dir, { recursive: true });
  const ssl = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const path = (n) => join(dir, n);
  const pem = (n) => readFileSync(path(n), 'utf8');
  const key = (name) => ssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`);
  const ports = Object.fromEntries((await freePorts(RESPONDERS.length)).map((p, k) => [RESPONDERS[k], p]));
  const ocspUrl = (issuer) => {
    if (!ports[issuer]) throw new Error(`pnc-pki: no OCSP responder for ${issuer}`);
    return `http://127.0.0.1:${ports[issuer]}/`;
  };
  const issuerOf = {}; // cert name -> issuer name

  // an `openssl ca` database per issuing CA; serials start at random, distinct per CA
  ISSUERS.forEach((ca, k) => {
    const db = path(join('db', ca));
    mkdirSync(join(db, 'certs'), { recursive: true });
    writeFileSync(join(db, 'index.txt'), '');
    writeFileSync(join(db, 'index.txt.attr'), 'unique_subject = no\n');
    writeFileSync(join(db, 'serial'), `${(0x10 + k).toString(16)}${randomBytes(7).toString('hex')}\n`);
    writeFileSync(join(db, 'ca.cnf'), [
      '[ca]', 'default_ca = d', '[d]', `dir = ${db}`, 'database = $dir/index.txt', 'new_certs_dir = $dir/certs',
      `certificate = ${path(`${ca}.pem`)}`, `private_key = ${path(`${ca}.key`)}`, 'serial = $dir/serial',
      'default_md = sha256', 'default_days = 30', 'policy = p', 'preserve = yes', 'unique_subject = no',
      'copy_extensions = none', 'email_in_dn = no',
      '[p]', 'domainComponent = optional', 'countryName = optional', 'organizationName = optional',
      'commonName = supplied', ''].join('\n'));
  });
  const caCnf = (ca) => join('db', ca, 'ca.cnf');
  // issue `name` (new key + CSR) from `issuer` with `openssl ca`
  const issue = (name, issuer, subj, ext, { days = 30, dates } = {}) => {
    key(name);
    ssl('req', '-new', '-key', `${name}.key`, '-out', `${name}.csr`, '-subj', subj);
    const aia = issuer === 'rogue-root' ? ocspUrl('mo-sub2') : ocspUrl(issuer);
    writeFileSync(path(`${name}.ext`), `[ext]\n${ext}\nauthorityInfoAccess=OCSP;URI:${aia}\n`);
    ssl('ca', '-batch', '-config', caCnf(issuer), '-in', `${name}.csr`, '-out', `${name}.pem`, '-notext',
      '-extfile', `${name}.ext`, '-extensions', 'ext',
      ...(dates ? ['-startdate', dates[0], '-enddate', dates[1]] : ['-days', String(days)]));
    issuerOf[name] = issuer;
    return { name, file: path(`${name}.pem`), pem: pem(`${name}.pem`), key: pem(`${name}.key`),
      serial: serialHex(certFields(pem(`${name}.pem`)).serial) };
  };

  for (const [name, cn] of Object.entries(ROOTS)) {
    key(name);
    writeFileSync(path(`${name}.ext`), `[req]\ndistinguished_name = dn\n[dn]\n[ext]\nbasicConstraints=critical,CA:TRUE\n${CA_EXT}\n`);
    ssl('req', '-x509', '-new', '-key', `${name}.key`, '-out', `${name}.pem`, '-days', '3650', '-sha256',
      '-subj', `/CN=${cn}`, '-config', `${name}.ext`, '-extensions', 'ext');
    issuerOf[name] = name;
  }
  for (const [name, cn, issuer, pathlen, days] of SUBS)
    issue(name, issuer, `/CN=${cn}`, `basicConstraints=critical,CA:TRUE,pathlen:${pathlen}\n${CA_EXT}\n` +
      'authorityKeyIdentifier=keyid', { days });

  // --- OCSP responders ----------------------------------------------------------------
  const running = {}; // issuer -> ChildProcess
  const logOf = (ca) => path(join('db', ca, 'ocsp.log'));
  const spawnResponder = (ca) => {
    const log = openSync(logOf(ca), 'a');
    const from = statSync(logOf(ca)).size;
    const child = spawn('openssl', ['ocsp', '-index', path(join('db', ca, 'index.txt')), '-port', String(ports[ca]),
      '-rsigner', path(`${ca}.pem`), '-rkey', path(`${ca}.key`), '-CA', path(`${ca}.pem`),
      '-nrequest', '100000', '-ndays', '1', '-ignore_err'], { cwd: dir, stdio: ['ignore', log, log] });
    closeSync(log);
    child.on('error', () => {});
    child.unref();
    running[ca] = child;
    return from;
  };
  const notReady = (ca, from) => new Error(`pnc-pki: OCSP responder for ${ca} (port ${ports[ca]}) did not start: ` +
    `${logFrom(logOf(ca), from).trim() || 'no output'}`);
  const stopOcsp = (ca) => {
    const which = ca ? [ca] : Object.keys(running);
    const killed = which.filter((c) => running[c]).map((c) => {
      const child = running[c];
      delete running[c];
      try { child.kill('SIGKILL'); } catch { /* gone already */ }
      return child.pid;
    });
    for (const pid of killed) deadSync(pid); // on return the ports refuse connections
  };
  const startOcsp = async (ca) => {
    const which = ca ? [ca] : RESPONDERS;
    for (const c of which) if (!ports[c]) throw new Error(`pnc-pki: no OCSP responder for ${c}`);
    await Promise.all(which.filter((c) => !running[c]).map(async (c) => {
      const from = spawnResponder(c), child = running[c];
      for (const end = Date.now() + 5000; !logFrom(logOf(c), from).includes(READY); await sleep(10))
        if (Date.now() > end || child.exitCode !== null || child.signalCode !== null) {
          if (running[c] === child) stopOcsp(c);
          throw notReady(c, from);
        }
    }));
  };
  const restartSync = (ca) => {
    if (!running[ca]) return;
    stopOcsp(ca);
    const from = spawnResponder(ca);
    for (const end = Date.now() + 5000; !logFrom(logOf(ca), from).includes(READY); sleepSync(10))
      if (Date.now() > end) { stopOcsp(ca); throw notReady(ca, from); }
  };
  const stopMine = () => stopOcsp();
  liveStops.add(stopMine);
  hookExit();

  const nameOf = (c) => (typeof c === 'object' ? c.name : String(c).replace(/\.pem$/, ''));
  const revoke = (cert, reason) => {
    const name = nameOf(cert);
    const ca = issuerOf[name];
    if (!ca || ca === name) throw new Error(`pnc-pki: ${name} was not issued here`);
    ssl('ca', '-config', caCnf(ca), '-revoke', `${name}.pem`, ...(reason ? ['-crl_reason', reason] : []));
    restartSync(ca);
  };

  const pki = {
    dir, path, pem, ocspUrl, startOcsp, stopOcsp, revoke,
    file: (n) => readFileSync(path(n)),
    cpoChain: () => pem('cpo-sub2.pem') + pem('cpo-sub1.pem'),
    moChain: () => pem('mo-sub2.pem') + pem('mo-sub1.pem'),
    secc(stationId, { days = 30 } = {}) {
      const c = issue(`secc-${fileSafe(stationId)}`, 'cpo-sub2', `/O=Example CPO/CN=${subjEsc(stationId)}`, LEAF_EXT, { days });
      return { ...c, csr: pem(`${c.name}.csr`) };
    },
    contract(emaid, { revoked = false, expired = false, issuer = 'mo-sub2', days = 365 } = {}) {
      const now = Date.now(), day = 86400e3;
      const c = issue(`contract-${fileSafe(emaid)}`, issuer, `/O=Example MO/CN=${subjEsc(emaid)}`, LEAF_EXT,
        { days, dates: expired ? [asn1Time(new Date(now - 60 * day)), asn1Time(new Date(now - 30 * day))] : undefined });
      if (revoked) revoke(c.name, typeof revoked === 'string' ? revoked : undefined);
      return c;
    },
    // OCPP 2.0.1 OCSPRequestDataType, computed as OCSP CertID (RFC 6960 4.1.1) with SHA-256
    hashData(cert, issuer) {
      const certPem = typeof cert === 'object' ? cert.pem
        : String(cert).startsWith('-----BEGIN') ? cert : pem(`${nameOf(cert)}.pem`);
      const f = certFields(certPem);
      let issuerPem;
      if (issuer) issuerPem = String(issuer).startsWith('-----BEGIN') ? issuer : pem(`${nameOf(issuer)}.pem`);
      else {
        const ca = [...ISSUERS, 'oem-root'].find((n) => certFields(pem(`${n}.pem`)).subjectDer.equals(f.issuerDer));
        if (!ca) throw new Error('pnc-pki: hashData: unknown issuer, name it');
        issuerPem = pem(`${ca}.pem`);
      }
      return {
        hashAlgorithm: 'SHA256',
        issuerNameHash: sha256hex(f.issuerDer),
        issuerKeyHash: sha256hex(certFields(issuerPem).keyBits),
        serialNumber: serialHex(f.serial),
        responderURL: f.ocspUrl,
      };
    },
    async close() {
      stopOcsp();
      liveStops.delete(stopMine);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return pki;
}
