// pki.mjs — a test PKI made with the openssl tool: a CSMS server certificate for
// 127.0.0.1, a station CA that issues station certificates (CN = the station id; any
// validity, an expired one included), and a rogue CA.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function makePki(dir) {
  const ssl = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const key = (name) => ssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`);
  const ca = (name, cn) => {
    key(name);
    ssl('req', '-x509', '-new', '-key', `${name}.key`, '-out', `${name}.pem`, '-days', '30', '-subj', `/CN=${cn}`);
  };
  const leaf = (name, issuer, subj, ext, dates) => {
    key(name);
    ssl('req', '-new', '-key', `${name}.key`, '-out', `${name}.csr`, '-subj', subj);
    writeFileSync(join(dir, `${name}.ext`), `${ext}\n`);
    if (!dates) {
      ssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${issuer}.pem`, '-CAkey', `${issuer}.key`,
        '-CAcreateserial', '-days', '10', '-out', `${name}.pem`, '-extfile', `${name}.ext`);
      return;
    }
    // a certificate outside its validity needs `openssl ca` (x509 -req cannot backdate)
    writeFileSync(join(dir, 'index.txt'), '');
    writeFileSync(join(dir, 'ca.cnf'), [
      '[ca]', 'default_ca = d', '[d]', `dir = ${dir}`, 'database = $dir/index.txt', 'new_certs_dir = $dir',
      `certificate = $dir/${issuer}.pem`, `private_key = $dir/${issuer}.key`, 'serial = $dir/ca.serial',
      'default_md = sha256', 'policy = p', 'unique_subject = no', 'copy_extensions = none',
      '[p]', 'commonName = supplied', 'organizationName = optional', '[ext]', ext, ''].join('\n'));
    writeFileSync(join(dir, 'ca.serial'), '1000\n');
    ssl('ca', '-batch', '-config', 'ca.cnf', '-in', `${name}.csr`, '-out', `${name}.pem`, '-notext',
      '-startdate', dates[0], '-enddate', dates[1], '-extensions', 'ext');
  };
  ca('server-ca', 'Test CSMS CA');
  ca('station-ca', 'Test Station CA');
  ca('rogue', 'Rogue CA');
  leaf('server', 'server-ca', '/CN=127.0.0.1', 'subjectAltName=IP:127.0.0.1,DNS:localhost');
  const station = (name, cn, issuer = 'station-ca', dates) =>
    leaf(name, issuer, `/O=Example CPO/CN=${cn}`, 'extendedKeyUsage=clientAuth', dates);
  return { dir, path: (n) => join(dir, n), file: (n) => readFileSync(join(dir, n)), station };
}

