// gen-ocpp-schemas.mjs — generate pipelet's compact C message definitions
// (struct pl_schema, include/pipelet/ocpp.h) from the official OCPP JSON schemas that
// ship in the npm package ocpp-rpc.  Descriptions are dropped; identical sub-schemas are
// emitted once.  Usage: node scripts/gen-ocpp-schemas.mjs   (rewrites core/ocpp*_messages.c)
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const top = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(top, 'package.json'));
const schemaDir = join(dirname(require.resolve('ocpp-rpc')), 'lib', 'schemas');

const V16_FROM_STATION = ['Authorize', 'BootNotification', 'DiagnosticsStatusNotification',
  'FirmwareStatusNotification', 'Heartbeat', 'MeterValues', 'StartTransaction', 'StatusNotification',
  'StopTransaction', 'LogStatusNotification', 'SecurityEventNotification', 'SignCertificate',
  'SignedFirmwareStatusNotification'];
const V16_TO_STATION = ['CancelReservation', 'ChangeAvailability', 'ChangeConfiguration', 'ClearCache',
  'ClearChargingProfile', 'GetCompositeSchedule', 'GetConfiguration', 'GetDiagnostics',
  'GetLocalListVersion', 'RemoteStartTransaction', 'RemoteStopTransaction', 'ReserveNow', 'Reset',
  'SendLocalList', 'SetChargingProfile', 'TriggerMessage', 'UnlockConnector', 'UpdateFirmware',
  'CertificateSigned', 'DeleteCertificate', 'ExtendedTriggerMessage', 'GetInstalledCertificateIds',
  'GetLog', 'InstallCertificate', 'SignedUpdateFirmware'];
const V201_FROM_STATION = ['Authorize', 'BootNotification', 'ClearedChargingLimit',
  'FirmwareStatusNotification', 'Get15118EVCertificate', 'GetCertificateStatus', 'Heartbeat',
  'LogStatusNotification', 'MeterValues', 'NotifyChargingLimit', 'NotifyCustomerInformation',
  'NotifyDisplayMessages', 'NotifyEVChargingNeeds', 'NotifyEVChargingSchedule', 'NotifyEvent',
  'NotifyMonitoringReport', 'NotifyReport', 'PublishFirmwareStatusNotification',
  'ReportChargingProfiles', 'ReservationStatusUpdate', 'SecurityEventNotification', 'SignCertificate',
  'StatusNotification', 'TransactionEvent'];
const V201_TO_STATION = ['CancelReservation', 'CertificateSigned', 'ChangeAvailability', 'ClearCache',
  'ClearChargingProfile', 'ClearDisplayMessage', 'ClearVariableMonitoring', 'CostUpdated',
  'CustomerInformation', 'DeleteCertificate', 'GetBaseReport', 'GetChargingProfiles',
  'GetCompositeSchedule', 'GetDisplayMessages', 'GetInstalledCertificateIds', 'GetLocalListVersion',
  'GetLog', 'GetMonitoringReport', 'GetReport', 'GetTransactionStatus', 'GetVariables',
  'InstallCertificate', 'PublishFirmware', 'RequestStartTransaction', 'RequestStopTransaction',
  'ReserveNow', 'Reset', 'SendLocalList', 'SetChargingProfile', 'SetDisplayMessage',
  'SetMonitoringBase', 'SetMonitoringLevel', 'SetNetworkProfile', 'SetVariableMonitoring',
  'SetVariables', 'TriggerMessage', 'UnlockConnector', 'UnpublishFirmware', 'UpdateFirmware'];

function generate(file, prefix, subprotocol, fromStation, toStation, both) {
  const all = JSON.parse(readFileSync(join(schemaDir, file), 'utf8'));
  const byId = new Map(all.map((s) => [s.$id, s]));
  const out = [];
  const emitted = new Map(); // canonical JSON -> C name
  let counter = 0;

  const cstr = (s) => JSON.stringify(s);
  function resolve(node, root) {
    if (node && node.$ref) {
      const name = node.$ref.replace('#/definitions/', '');
      return resolve(root.definitions[name], root);
    }
    return node;
  }
  // Returns the C name of the emitted node.
  function emit(node, root, path) {
    node = resolve(node, root);
    let type = node.type;
    if (Array.isArray(type)) type = type.find((t) => t !== 'null') || 'any';
    const T = { string: 'PL_SCHEMA_STRING', integer: 'PL_SCHEMA_INTEGER', number: 'PL_SCHEMA_NUMBER',
      boolean: 'PL_SCHEMA_BOOLEAN', object: 'PL_SCHEMA_OBJECT', array: 'PL_SCHEMA_ARRAY' }[type] ||
      (node.properties ? 'PL_SCHEMA_OBJECT' : node.enum ? 'PL_SCHEMA_STRING' : 'PL_SCHEMA_ANY');
    const fields = [`.type = ${T}`];
    const fmt = node.format === 'date-time' ? 'PL_FORMAT_DATE_TIME' : node.format === 'uri' ? 'PL_FORMAT_URI' : null;
    if (fmt) fields.push(`.format = ${fmt}`);
    fields.push(`.max_length = ${node.maxLength ?? -1}`);
    if (T === 'PL_SCHEMA_OBJECT') fields.push(`.additional = ${node.additionalProperties === false ? 0 : 1}`);
    if (node.minimum !== undefined) fields.push('.has_min = 1', `.minimum = ${node.minimum}`);
    if (node.maximum !== undefined) fields.push('.has_max = 1', `.maximum = ${node.maximum}`);
    if (node.multipleOf !== undefined) fields.push(`.multiple_of = ${node.multipleOf}`);
    fields.push(`.min_items = ${node.minItems ?? 0}`, `.max_items = ${node.maxItems ?? -1}`);
    const pre = [];
    if (node.enum) {
      const en = `${prefix}_e${counter++}`;
      pre.push(`static const char *const ${en}[] = {${node.enum.map(cstr).join(', ')}, NULL};`);
      fields.push(`.enums = ${en}`);
    }
    if (T === 'PL_SCHEMA_OBJECT' && node.properties) {
      const req = new Set(node.required || []);
      const props = Object.entries(node.properties).map(([k, v]) => `{${cstr(k)}, ${req.has(k) ? 1 : 0}, &${emit(v, root, path + '.' + k)}}`);
      if (props.length) {
        const pn = `${prefix}_p${counter++}`;
        pre.push(`static const struct pl_schema_prop ${pn}[] = {\n    ${props.join(',\n    ')}};`);
        fields.push(`.props = ${pn}`, `.nprops = ${props.length}`);
      }
    }
    if (T === 'PL_SCHEMA_ARRAY' && node.items) fields.push(`.items = &${emit(node.items, root, path + '[]')}`);
    const body = `{${fields.join(', ')}}`;
    const key = pre.map((p) => p.replace(/^static const [^=]*=/, '')).join('|') + body;
    if (emitted.has(key)) return emitted.get(key);
    const name = `${prefix}_s${counter++}`;
    out.push(...pre, `static const struct pl_schema ${name} = ${body};`);
    emitted.set(key, name);
    return name;
  }

  const actions = [];
  const names = [...fromStation, ...toStation, ...both].sort();
  for (const a of names) {
    const req = byId.get(`urn:${a}.req`) || byId.get(`urn:${a}Request`);
    const conf = byId.get(`urn:${a}.conf`) || byId.get(`urn:${a}Response`);
    if (!req || !conf) throw new Error(`${file}: no schema for ${a}`);
    const dir = both.includes(a) ? 'PL_OCPP_BOTH' : fromStation.includes(a) ? 'PL_OCPP_FROM_STATION' : 'PL_OCPP_TO_STATION';
    actions.push(`    {${cstr(a)}, ${dir}, &${emit(req, req, a)}, &${emit(conf, conf, a)}}`);
  }
  const header = `/* Generated by scripts/gen-ocpp-schemas.mjs from the OCPP ${subprotocol} JSON schemas
 * (npm ocpp-rpc, lib/schemas/${file}).  Do not edit: regenerate. */
#include "ocpp_schema.h"

`;
  const text = header + out.join('\n') + `\n\nstatic const struct pl_ocpp_action ${prefix}_actions[] = {\n${actions.join(',\n')}};\n\n` +
    `const struct pl_ocpp_protocol pl_${prefix}_protocol = {sizeof(struct pl_ocpp_protocol), ${cstr(subprotocol)}, ` +
    `${prefix}_actions, sizeof ${prefix}_actions / sizeof ${prefix}_actions[0]};\n`;
  writeFileSync(join(top, 'core', `${prefix}_messages.c`), text);
  console.log(`${prefix}: ${names.length} actions, ${emitted.size} schema nodes`);
}

generate('ocpp1_6.json', 'ocpp16', 'ocpp1.6', V16_FROM_STATION, V16_TO_STATION, ['DataTransfer']);
generate('ocpp2_0_1.json', 'ocpp201', 'ocpp2.0.1', V201_FROM_STATION, V201_TO_STATION, ['DataTransfer']);
