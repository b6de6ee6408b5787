// mock-hubject.mjs — a mock of Hubject's OICP 2.3 hub (CPO side) for the integration tests
// of the OICP gateway: an HTTPS server with mutual TLS on 127.0.0.1 that records every
// request, checks it against the specification, and answers as a test scripted it or, by
// default, as Hubject usually does.
//
//   const hub = await startMockHubject({ cert, key, ca, requireClientCert, operatorId });
//   hub.url (https://127.0.0.1:<port>/api/oicp), hub.port, hub.requests, hub.violations
//   hub.respond(op, handler | answer | null)   answer: { status?, body, delayMs? } | 'timeout' | 'close'
//                                               (a string body is sent as it is)
//   hub.ops(op), hub.reset(), await hub.waitFor(pred, ms, what), await hub.close()
//   ack(), authorizationStart(), authorizationStop(): answer bodies
//
// Every path, required field, type, enum and pattern below is transcribed from the OICP 2.3
// CPO specification (hubject/oicp-cpo-2.3-api-doc, OpenAPI 3.0), each schema from the file
// src/schemas/<its name>.yaml. Where a rule comes from a schema's prose rather than from its
// `required:`/`enum:`/`pattern:`, its comment quotes the source.
import https from 'node:https';
import { randomUUID } from 'node:crypto';

// ---------------------------------------------------------------------------------------
// Schema building blocks: plain objects shaped like the YAML they transcribe.
// ---------------------------------------------------------------------------------------
const string = (pattern) => ({ type: 'string', ...(pattern && { pattern: new RegExp(pattern) }) });
const dateTime = { type: 'string', format: 'date-time' };
const number = { type: 'number' };
const integer = (minimum, maximum) => ({ type: 'integer', minimum, maximum });
const boolean = { type: 'boolean' };
const enumOf = (...values) => ({ type: 'string', enum: values });
const arrayOf = (items, more) => ({ type: 'array', items, ...more });
const object = (required, properties, more) => ({ type: 'object', required, properties, ...more });
/** The same schema with extra rules: (value) => an error message, or null. */
const withRules = (schema, ...rules) => ({ ...schema, rules: [...(schema.rules || []), ...rules] });

// Identifiers (OperatorID.yaml, EvseID.yaml, ProviderID.yaml, ProviderIDAsterisk.yaml,
// EvcoID.yaml, SessionID.yaml, UID.yaml, ChargingPoolID.yaml), patterns verbatim.
const OperatorID = string(String.raw`^(([A-Za-z]{2}\*?[A-Za-z0-9]{3})|(\+?[0-9]{1,3}\*[0-9]{3}))$`);
const EvseID = string(
  String.raw`^(([A-Za-z]{2}\*?[A-Za-z0-9]{3}\*?E[A-Za-z0-9\*]{1,30})|(\+?[0-9]{1,3}\*[0-9]{3}\*[0-9\*]{1,32}))$`);
const ProviderID = string(String.raw`^([A-Za-z]{2}\-?[A-Za-z0-9]{3}|[A-Za-z]{2}[\*|-]?[A-Za-z0-9]{3})$`);
const ProviderIDAsterisk = string(String.raw`^([A-Za-z]{2}\-?[A-Za-z0-9]{3}|[A-Za-z]{2}[\*|-]?[A-Za-z0-9]{3})|\*$`);
const EvcoID = string(String.raw`^(([A-Za-z]{2}\-?[A-Za-z0-9]{3}\-?C[A-Za-z0-9]{8}\-?[\d|A-Za-z])|([A-Za-z]{2}[\*|\-]?[A-Za-z0-9]{3}[\*|\-]?[A-Za-z0-9]{6}[\*|\-]?[\d|X]))$`);
const SessionID = string('^[A-Za-z0-9]{8}(-[A-Za-z0-9]{4}){3}-[A-Za-z0-9]{12}$');
const UID = string('^([0-9A-F]{8,8}|[0-9A-F]{14,14}|[0-9A-F]{20,20})$');
const ChargingPoolID = string(String.raw`([A-Za-z]{2}\*?[A-Za-z0-9]{3}\*?P[A-Za-z0-9\*]{1,30})`);
const PartnerSessionID = string(); // CPOPartnerSessionID / EMPPartnerSessionID
const ProductID = string(); // ProductID.yaml: standard values or any custom id
const CurrencyID = string(); // CurrencyID.yaml: ISO 4217, no pattern given
// ReferenceUnit.yaml: type string whose options table lists exactly these three
const ReferenceUnit = enumOf('HOUR', 'KILOWATT_HOUR', 'MINUTE');
const ActionType = enumOf('fullLoad', 'update', 'insert', 'delete');
const Day = enumOf('Everyday', 'Workdays', 'Weekend', 'Monday', 'Tuesday', 'Wednesday', 'Thursday',
  'Friday', 'Saturday', 'Sunday');
const HourMinute = string('[0-9]{2}:[0-9]{2}');

const InfoTextType = object(['lang', 'value'], {
  lang: string('^[a-z]{2,3}(?:-[A-Z]{2,3}(?:-[a-zA-Z]{4})?)?(?:-x-[a-zA-Z0-9]{1,8})?$'),
  value: string(),
});

const AddressIso19773 = object(['Country', 'City', 'Street', 'PostalCode', 'HouseNum'], {
  // "allows for Alpha-3 country codes only as of OICP 2.2 and OICP 2.3" (minimum/maximum: 3)
  Country: string('^[A-Za-z]{3}$'),
  City: string(),
  Street: string(),
  PostalCode: string(),
  HouseNum: string(),
  Floor: string(),
  Region: string(),
  ParkingFacility: boolean,
  ParkingSpot: string(),
  TimeZone: string('[U][T][C][+,-][0-9][0-9][:][0-9][0-9]'),
});

const decimalDegree = string(String.raw`^-?1?\d{1,2}\.\d{1,6}$`);
const degreeMinuteSeconds = string(String.raw`^-?1?\d{1,2}°[ ]?\d{1,2}'[ ]?\d{1,2}\.\d+''$`);
const GEO_FORMATS = ['Google', 'DecimalDegree', 'DegreeMinuteSeconds'];
const GeoCoordinates = object([], {
  Google: object(['Coordinates'], {
    Coordinates: string(String.raw`^-?1?\d{1,2}\.\d{1,6}\s*\,?\s*-?1?\d{1,2}\.\d{1,6}$`),
  }),
  DecimalDegree: object(['Longitude', 'Latitude'], { Longitude: decimalDegree, Latitude: decimalDegree }),
  DegreeMinuteSeconds: object(['Longitude', 'Latitude'], {
    Longitude: degreeMinuteSeconds, Latitude: degreeMinuteSeconds,
  }),
}, {
  // "One of the following three options MUST be provided"
  rules: [(v) => (GEO_FORMATS.some((f) => v[f] !== undefined) ? null
    : `one of ${GEO_FORMATS.join(', ')} must be provided`)],
});

const Plug = enumOf('Small Paddle Inductive', 'Large Paddle Inductive', 'AVCON Connector', 'Tesla Connector',
  'NEMA 5-20', 'Type E French Standard', 'Type F Schuko', 'Type G British Standard', 'Type J Swiss Standard',
  'Type 1 Connector (Cable Attached)', 'Type 2 Outlet', 'Type 2 Connector (Cable Attached)', 'Type 3 Outlet',
  'IEC 60309 Single Phase', 'IEC 60309 Three Phase', 'CCS Combo 2 Plug (Cable Attached)',
  'CCS Combo 1 Plug (Cable Attached)', 'CHAdeMO');

const ChargingFacility = object(['PowerType', 'Power'], {
  PowerType: enumOf('AC_1_PHASE', 'AC_3_PHASE', 'DC'),
  Voltage: integer(0, 999),
  Amperage: integer(0, 99),
  Power: integer(0, 999),
  ChargingModes: arrayOf(enumOf('Mode_1', 'Mode_2', 'Mode_3', 'Mode_4', 'CHAdeMO')),
});

const EnergySource = object([], {
  Energy: enumOf('Solar', 'Wind', 'HydroPower', 'GeothermalEnergy', 'Biomass', 'Coal', 'NuclearEnergy',
    'Petroleum', 'NaturalGas'),
  Percentage: integer(0, 99),
});

const AuthenticationMode = enumOf('NFC RFID Classic', 'NFC RFID DESFire', 'PnC', 'REMOTE', 'Direct Payment',
  'No Authentication Required');

// PaymentOption.yaml: "`No Payment` can not be combined with other payment option"
const PaymentOptions = arrayOf(enumOf('No Payment', 'Direct', 'Contract'), {
  rules: [(v) => (v.includes('No Payment') && v.length > 1 ? "'No Payment' cannot be combined with other options"
    : null)],
});

const ValueAddedService = enumOf('Reservation', 'DynamicPricing', 'ParkingSensors', 'MaximumPowerCharging',
  'PredictiveChargePointUsage', 'ChargingPlans', 'RoofProvided', 'None');

const Accessibility = enumOf('Free publicly accessible', 'Restricted access', 'Paying publicly accessible',
  'Test Station');

const OpeningTimes = object(['Period', 'on'], {
  Period: arrayOf(object(['begin', 'end'], { begin: HourMinute, end: HourMinute })),
  on: Day,
});

const EvseDataRecord = object([
  'EvseID', 'ChargingStationNames', 'Address', 'GeoCoordinates', 'Plugs', 'ChargingFacilities',
  'RenewableEnergy', 'CalibrationLawDataAvailability', 'AuthenticationModes', 'PaymentOptions',
  'ValueAddedServices', 'Accessibility', 'HotlinePhoneNumber', 'IsOpen24Hours', 'IsHubjectCompatible',
  'DynamicInfoAvailable',
], {
  deltaType: enumOf('update', 'insert', 'delete'),
  lastUpdate: dateTime,
  EvseID,
  ChargingPoolID,
  ChargingStationId: string(),
  ChargingStationNames: arrayOf(InfoTextType),
  HardwareManufacturer: string(),
  ChargingStationImage: string(),
  SubOperatorName: string(),
  Address: AddressIso19773,
  GeoCoordinates,
  Plugs: arrayOf(Plug),
  DynamicPowerLevel: boolean,
  ChargingFacilities: arrayOf(ChargingFacility),
  RenewableEnergy: boolean,
  EnergySource: arrayOf(EnergySource),
  EnvironmentalImpact: object([], { CO2Emission: number, NuclearWaste: number }),
  CalibrationLawDataAvailability: enumOf('Local', 'External', 'Not Available'),
  AuthenticationModes: arrayOf(AuthenticationMode),
  MaxCapacity: integer(),
  PaymentOptions,
  ValueAddedServices: arrayOf(ValueAddedService),
  Accessibility,
  AccessibilityLocation: enumOf('OnStreet', 'ParkingLot', 'ParkingGarage', 'UndergroundParkingGarage'),
  HotlinePhoneNumber: string(String.raw`^\+[0-9]{5,15}$`),
  AdditionalInfo: arrayOf(InfoTextType),
  ChargingStationLocationReference: arrayOf(InfoTextType),
  GeoChargingPointEntrance: GeoCoordinates,
  IsOpen24Hours: boolean,
  OpeningTimes: arrayOf(OpeningTimes),
  HubOperatorID: OperatorID,
  ClearinghouseID: string(),
  IsHubjectCompatible: boolean,
  DynamicInfoAvailable: enumOf('true', 'false', 'auto'),
});

const EvseStatusRecord = object(['EvseID', 'EvseStatus'], {
  EvseID,
  EvseStatus: enumOf('Available', 'Reserved', 'Occupied', 'OutOfService', 'EvseNotFound', 'Unknown'),
});

// Identification.yaml and the five variants it lists, each with its own `required:`.
const QRCodeIdentification = object(['EvcoID'], {
  EvcoID,
  HashedPIN: object(['Value', 'Function'], {
    Value: string(String.raw`^[0-9A-Za-z\\.+/=\\$]{10,100}$`),
    Function: enumOf('Bcrypt'),
    LegacyHashData: object(['Function'], { Function: enumOf('MD5', 'SHA-1'), Salt: string(), Value: string() }),
  }),
  PIN: string(),
}, {
  // eRoamingAuthorizeStart: "a “PIN” field or a “HashedPIN” field (only one of the two options must be provided)"
  rules: [(v) => (v.PIN !== undefined && v.HashedPIN !== undefined ? 'PIN and HashedPIN are exclusive' : null)],
});
const IDENTIFICATION_VARIANTS = {
  RFIDMifareFamilyIdentification: object(['UID'], { UID }),
  RFIDIdentification: object(['UID', 'RFID'], {
    UID,
    EvcoID,
    RFID: enumOf('mifareCls', 'mifareDes', 'calypso', 'nfc', 'mifareFamily'),
    PrintedNumber: string(),
    ExpiryDate: string(),
  }),
  QRCodeIdentification,
  PlugAndChargeIdentification: object(['EvcoID'], { EvcoID }),
  RemoteIdentification: object(['EvcoID'], { EvcoID }),
};
// The variants are "options" of one identification: exactly one is given.
const Identification = object([], IDENTIFICATION_VARIANTS, {
  rules: [(v) => {
    const given = Object.keys(v).filter((k) => Object.hasOwn(IDENTIFICATION_VARIANTS, k));
    const unknown = Object.keys(v).filter((k) => !Object.hasOwn(IDENTIFICATION_VARIANTS, k));
    if (unknown.length) return `unknown identification ${unknown.join(', ')}`;
    return given.length === 1 ? null
      : `exactly one of ${Object.keys(IDENTIFICATION_VARIANTS).join(', ')} must be given (got ${given.length})`;
  }],
});
// Identification.yaml: "The option RFIDIdentification `MUST` not be used in the eRoamingAuthorization process."
const AuthorizationIdentification = withRules(Identification,
  (v) => (v.RFIDIdentification !== undefined ? 'RFIDIdentification must not be used to authorize' : null));

// ---------------------------------------------------------------------------------------
// The request bodies (schemas/eRoaming*.yaml)
// ---------------------------------------------------------------------------------------
const partnerSessionIDs = { CPOPartnerSessionID: PartnerSessionID, EMPPartnerSessionID: PartnerSessionID };

const eRoamingAuthorizeStart = object(['OperatorID', 'Identification'], {
  SessionID,
  ...partnerSessionIDs,
  OperatorID,
  EvseID,
  // eRoamingAuthorizeStart: "this operation `MUST` always provide the “PIN” field (clear text)"
  Identification: withRules(AuthorizationIdentification, (v) => (v.QRCodeIdentification
    && v.QRCodeIdentification.PIN === undefined ? 'QRCodeIdentification.PIN: required to authorize' : null)),
  PartnerProductID: ProductID,
});

const eRoamingAuthorizeStop = object(['SessionID', 'OperatorID', 'Identification'], {
  SessionID,
  ...partnerSessionIDs,
  OperatorID,
  EvseID,
  Identification: AuthorizationIdentification,
});

const MeterValueInBetween = object([], { meterValues: arrayOf(number) });

const eRoamingChargeDetailRecord = object([
  'SessionID', 'EvseID', 'Identification', 'ChargingStart', 'ChargingEnd', 'SessionStart', 'SessionEnd',
  'ConsumedEnergy',
], {
  SessionID,
  ...partnerSessionIDs,
  PartnerProductID: ProductID,
  EvseID,
  Identification,
  ChargingStart: dateTime,
  ChargingEnd: dateTime,
  SessionStart: dateTime,
  SessionEnd: dateTime,
  MeterValueStart: number,
  MeterValueEnd: number,
  MeterValueInBetween,
  ConsumedEnergy: number,
  // "In total you can provide maximum 10 metering signature values"
  SignedMeteringValues: arrayOf(object([], {
    SignedMeteringValue: string(),
    MeteringStatus: enumOf('Start', 'Progress', 'End'),
  }), { maxItems: 10 }),
  CalibrationLawVerificationInfo: object([], {
    CalibrationLawCertificateID: string(),
    PublicKey: string(),
    MeteringSignatureUrl: string(),
    MeteringSignatureEncodingFormat: string(),
    SignedMeteringValuesVerificationInstruction: string(),
  }),
  HubOperatorID: OperatorID,
  HubProviderID: ProviderID,
});

const eRoamingPushEvseData = object(['ActionType', 'OperatorEvseData'], {
  ActionType,
  OperatorEvseData: object(['OperatorID', 'OperatorName', 'EvseDataRecord'], {
    OperatorID,
    OperatorName: string(),
    EvseDataRecord: arrayOf(EvseDataRecord),
  }),
});

const eRoamingPushEvseStatus = object(['ActionType', 'OperatorEvseStatus'], {
  ActionType,
  OperatorEvseStatus: object(['OperatorID', 'EvseStatusRecord'], {
    OperatorID,
    OperatorName: string(),
    EvseStatusRecord: arrayOf(EvseStatusRecord),
  }),
});

const PricingProductDataRecord = object([
  'ProductID', 'ReferenceUnit', 'ProductPriceCurrency', 'PricePerReferenceUnit', 'MaximumProductChargingPower',
  'IsValid24hours', 'ProductAvailabilityTimes',
], {
  ProductID,
  ReferenceUnit,
  ProductPriceCurrency: CurrencyID,
  PricePerReferenceUnit: number,
  MaximumProductChargingPower: number,
  IsValid24hours: boolean,
  ProductAvailabilityTimes: arrayOf(object(['Periods', 'on'], {
    Periods: arrayOf(object(['begin', 'end'], { begin: HourMinute, end: HourMinute })),
    on: Day,
  })),
  AdditionalReferences: arrayOf(object(['AdditionalReference', 'AdditionalReferenceUnit',
    'PricePerAdditionalReferenceUnit'], {
    AdditionalReference: enumOf('START FEE', 'FIXED FEE', 'PARKING FEE', 'MINIMUM FEE', 'MAXIMUM FEE'),
    AdditionalReferenceUnit: ReferenceUnit,
    PricePerAdditionalReferenceUnit: number,
  })),
});

const eRoamingPushPricingProductData = object(['ActionType', 'PricingProductData'], {
  ActionType,
  PricingProductData: object(['OperatorID', 'ProviderID', 'PricingDefaultPrice', 'PricingDefaultPriceCurrency',
    'PricingDefaultReferenceUnit', 'PricingProductDataRecords'], {
    OperatorID,
    OperatorName: string(),
    ProviderID: ProviderIDAsterisk,
    PricingDefaultPrice: number,
    PricingDefaultPriceCurrency: CurrencyID,
    PricingDefaultReferenceUnit: ReferenceUnit,
    PricingProductDataRecords: arrayOf(PricingProductDataRecord),
  }),
});

const eRoamingPushEVSEPricing = object(['ActionType', 'EVSEPricing'], {
  ActionType,
  EVSEPricing: arrayOf(object(['EvseID', 'ProviderID', 'EvseIDProductList'], {
    EvseID,
    ProviderID: ProviderIDAsterisk,
    EvseIDProductList: arrayOf(ProductID),
  })),
});

// Each charging notification requires Type, SessionID, EvseID, its own fields and OperatorID
// (ChargingNotificationType.yaml gives Type's enum); these optional fields are common to all four.
const notification = (required, properties) => object(['Type', 'SessionID', 'EvseID', ...required, 'OperatorID'], {
  Type: enumOf('Start', 'Progress', 'End', 'Error'),
  SessionID,
  ...partnerSessionIDs,
  Identification,
  EvseID,
  OperatorID,
  ...properties,
});
const eRoamingChargingNotificationStart = notification(['ChargingStart'], {
  ChargingStart: dateTime,
  SessionStart: dateTime,
  MeterValueStart: number,
  PartnerProductID: ProductID,
});
const eRoamingChargingNotificationProgress = notification(['ChargingStart', 'EventOccurred'], {
  ChargingStart: dateTime,
  EventOccurred: dateTime,
  ChargingDuration: integer(),
  SessionStart: dateTime,
  ConsumedEnergyProgress: number,
  MeterValueStart: number,
  MeterValueInBetween,
  PartnerProductID: ProductID,
});
const eRoamingChargingNotificationEnd = notification(['ChargingEnd'], {
  ChargingStart: dateTime,
  ChargingEnd: dateTime,
  SessionStart: dateTime,
  SessionEnd: dateTime,
  ConsumedEnergy: number,
  MeterValueStart: number,
  MeterValueEnd: number,
  MeterValueInBetween,
  PartnerProductID: ProductID,
  PenaltyTimeStart: dateTime,
});
const eRoamingChargingNotificationError = notification(['ErrorType'], {
  ErrorType: enumOf('ConnectorError', 'CriticalError'),
  ErrorAdditionalInfo: string(),
});
// eRoamingChargingNotifications_V1.1.yaml: oneOf the four, told apart by Type.
const chargingNotification = {
  type: 'object',
  discriminator: {
    propertyName: 'Type',
    mapping: {
      Start: eRoamingChargingNotificationStart,
      Progress: eRoamingChargingNotificationProgress,
      End: eRoamingChargingNotificationEnd,
      Error: eRoamingChargingNotificationError,
    },
  },
};

// ---------------------------------------------------------------------------------------
// The operations: path under the base URL, body schema, and where the body names the
// operator (it must be the operator of the path, or for notifications the configured one).
// ---------------------------------------------------------------------------------------
const BASE = '/api/oicp';
const OPERATIONS = {
  AuthorizeStart: { path: '/charging/v21/operators/{operatorID}/authorize/start',
    schema: eRoamingAuthorizeStart, operatorAt: ['OperatorID'] },
  AuthorizeStop: { path: '/charging/v21/operators/{operatorID}/authorize/stop',
    schema: eRoamingAuthorizeStop, operatorAt: ['OperatorID'] },
  ChargeDetailRecord: { path: '/cdrmgmt/v22/operators/{operatorID}/charge-detail-record',
    schema: eRoamingChargeDetailRecord },
  PushEvseData: { path: '/evsepush/v23/operators/{operatorID}/data-records',
    schema: eRoamingPushEvseData, operatorAt: ['OperatorEvseData', 'OperatorID'] },
  PushEvseStatus: { path: '/evsepush/v21/operators/{operatorID}/status-records',
    schema: eRoamingPushEvseStatus, operatorAt: ['OperatorEvseStatus', 'OperatorID'] },
  PushPricingProductData: { path: '/dynamicpricing/v10/operators/{operatorID}/pricing-products',
    schema: eRoamingPushPricingProductData, operatorAt: ['PricingProductData', 'OperatorID'] },
  PushEVSEPricing: { path: '/dynamicpricing/v10/operators/{operatorID}/evse-pricing',
    schema: eRoamingPushEVSEPricing },
  ChargingNotification: { path: '/notificationmgmt/v11/charging-notifications',
    schema: chargingNotification, operatorAt: ['OperatorID'] },
};
const ROUTES = Object.entries(OPERATIONS).map(([op, { path }]) => ({
  op,
  re: new RegExp(`^${BASE}${path.replace('{operatorID}', '([^/]+)')}$`),
}));

function decodeSegment(s) {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function route(pathname) {
  for (const { op, re } of ROUTES) {
    const m = re.exec(pathname);
    if (m) return { op, operatorID: m[1] === undefined ? null : decodeSegment(m[1]) };
  }
  return null;
}

// ---------------------------------------------------------------------------------------
// The validator: every error as "<json path>: <what is wrong>".
// ---------------------------------------------------------------------------------------
const TYPE_CHECKS = {
  string: (v) => typeof v === 'string',
  number: (v) => typeof v === 'number' && Number.isFinite(v),
  integer: (v) => Number.isInteger(v),
  boolean: (v) => typeof v === 'boolean',
  array: (v) => Array.isArray(v),
  object: (v) => v !== null && typeof v === 'object' && !Array.isArray(v),
};

const A_TYPE = { string: 'a string', number: 'a number', integer: 'an integer', boolean: 'a boolean',
  array: 'an array', object: 'an object' };
const describe = (v) => (v === null ? 'null' : Array.isArray(v) ? 'an array'
  : typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`);
const join = (path, key) => (path ? `${path}.${key}` : key);

// RFC 3339 date-time (OpenAPI `format: date-time`), with the fields range-checked.
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?(?:[Zz]|[+-](\d{2}):(\d{2}))$/;
function isDateTime(s) {
  const m = DATE_TIME.exec(s);
  if (!m) return false;
  const [y, mo, d, h, mi, se] = m.slice(1, 7).map(Number);
  const [oh, om] = [m[8], m[9]].map((x) => Number(x ?? 0));
  const daysInMonth = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  return mo >= 1 && mo <= 12 && d >= 1 && d <= daysInMonth && h <= 23 && mi <= 59 && se <= 60 && oh <= 23 && om <= 59;
}

function validate(schema, value, path, errors) {
  const at = path || '(body)';
  if (!TYPE_CHECKS[schema.type](value)) {
    errors.push(`${at}: must be ${A_TYPE[schema.type]}, got ${describe(value)}`);
    return;
  }
  if (schema.enum && !schema.enum.includes(value))
    errors.push(`${at}: ${JSON.stringify(value)} is not one of ${schema.enum.map((e) => JSON.stringify(e)).join(', ')}`);
  if (schema.pattern && !schema.pattern.test(value))
    errors.push(`${at}: ${JSON.stringify(value)} does not match /${schema.pattern.source}/`);
  if (schema.format === 'date-time' && !isDateTime(value))
    errors.push(`${at}: ${JSON.stringify(value)} is not an RFC 3339 date-time`);
  if (schema.minimum !== undefined && value < schema.minimum) errors.push(`${at}: ${value} is below ${schema.minimum}`);
  if (schema.maximum !== undefined && value > schema.maximum) errors.push(`${at}: ${value} is above ${schema.maximum}`);
  if (schema.maxItems !== undefined && value.length > schema.maxItems)
    errors.push(`${at}: more than ${schema.maxItems} items`);
  if (schema.items) value.forEach((item, i) => validate(schema.items, item, `${path}[${i}]`, errors));
  if (schema.required) {
    for (const key of schema.required) if (!Object.hasOwn(value, key)) errors.push(`${join(path, key)}: required`);
  }
  if (schema.properties) {
    for (const [key, sub] of Object.entries(schema.properties))
      if (Object.hasOwn(value, key)) validate(sub, value[key], join(path, key), errors);
  }
  if (schema.discriminator) validateDiscriminated(schema.discriminator, value, path, errors);
  for (const rule of schema.rules || []) {
    const message = rule(value);
    if (message) errors.push(`${at}: ${message}`);
  }
}

function validateDiscriminated({ propertyName, mapping }, value, path, errors) {
  const sub = Object.hasOwn(mapping, value[propertyName]) && mapping[value[propertyName]];
  if (sub) validate(sub, value, path, errors);
  else if (!Object.hasOwn(value, propertyName)) errors.push(`${join(path, propertyName)}: required`);
  else errors.push(`${join(path, propertyName)}: ${JSON.stringify(value[propertyName])} is not one of `
    + Object.keys(mapping).map((k) => JSON.stringify(k)).join(', '));
}

/** All that is wrong with one routed request; `body` is undefined when it did not parse. */
function checkRequest({ op, operatorID }, contentType, raw, body, configuredOperator) {
  const errors = [];
  const mediaType = (contentType || '').split(';')[0].trim().toLowerCase();
  if (mediaType !== 'application/json')
    errors.push(`Content-Type: must be application/json, got ${JSON.stringify(contentType || '')}`);
  if (operatorID !== null) {
    const quoted = JSON.stringify(operatorID);
    if (!OperatorID.pattern.test(operatorID)) errors.push(`path operatorID: ${quoted} is not an OperatorID`);
    if (operatorID !== configuredOperator) errors.push(`path operatorID: ${quoted} is not this operator (${configuredOperator})`);
  }
  if (body === undefined) {
    errors.push(`body: not JSON: ${JSON.stringify(raw.slice(0, 80))}`);
    return errors;
  }
  const { schema, operatorAt } = OPERATIONS[op];
  validate(schema, body, '', errors);
  // the operator the body names must be the path's (for notifications: the configured one)
  const expected = operatorID ?? configuredOperator;
  const named = operatorAt && operatorAt.reduce((v, k) => (TYPE_CHECKS.object(v) ? v[k] : undefined), body);
  if (typeof named === 'string' && named !== expected)
    errors.push(`${operatorAt.join('.')}: ${JSON.stringify(named)} differs from the operator ${JSON.stringify(expected)}`
      + (operatorID !== null ? ' of the path' : ''));
  return errors;
}

// ---------------------------------------------------------------------------------------
// Answers
// ---------------------------------------------------------------------------------------
/** An eRoamingAcknowledgement body (schemas/eRoamingAcknowledgment.yaml). */
export function ack(result = true, code = '000', description, extra = {}) {
  const StatusCode = { Code: code };
  if (description !== undefined) StatusCode.Description = description;
  return { Result: result, StatusCode, ...extra };
}

function authorization({ authorized, sessionId, providerId = 'DE-DCB', code, description, ...fields }) {
  const StatusCode = { Code: code ?? (authorized ? '000' : '102') };
  if (description !== undefined) StatusCode.Description = description;
  return {
    ...(sessionId != null && { SessionID: sessionId }),
    ...(providerId != null && { ProviderID: providerId }),
    AuthorizationStatus: authorized ? 'Authorized' : 'NotAuthorized',
    StatusCode,
    ...fields,
  };
}

/** An eRoamingAuthorizationStart body (schemas/eRoamingAuthorizationStart.yaml). The
 *  code defaults to '000' when authorized, '102' otherwise; sessionId defaults to a fresh
 *  UUID (null leaves it out); other capitalised fields (e.g. AuthorizationStopIdentifications,
 *  CPOPartnerSessionID) are copied in as they are. */
export function authorizationStart({ sessionId = randomUUID(), ...rest } = {}) {
  return authorization({ sessionId, ...rest });
}

/** An eRoamingAuthorizationStop body (schemas/eRoamingAuthorizationStop.yaml); same
 *  arguments, but no SessionID unless one is given. */
export function authorizationStop(options = {}) {
  return authorization(options);
}

/** The request's session identifiers, to be echoed in an answer. */
function sessionIds(body) {
  const out = {};
  if (!TYPE_CHECKS.object(body)) return out;
  for (const k of ['SessionID', 'CPOPartnerSessionID', 'EMPPartnerSessionID'])
    if (typeof body[k] === 'string') out[k] = body[k];
  return out;
}

/** Hubject's answer when no test scripted one. */
function defaultAnswer(req) {
  const { SessionID, ...partners } = sessionIds(req.body);
  if (req.op === 'AuthorizeStart')
    return { body: authorizationStart({ authorized: false, code: '102', ...partners }) };
  if (req.op === 'AuthorizeStop')
    return { body: authorizationStop({ authorized: false, sessionId: SessionID, code: '102', ...partners }) };
  return { body: ack(true, '000', 'Success', sessionIds(req.body)) };
}

const clip = (s, n) => (s.length <= n ? s : `${s.slice(0, n - 1)}…`);

/** Hubject's answer to bad data: code 022, the errors in Description (which may hold 200
 *  characters) and, when they do not fit, in AdditionalInfo (1000) as well. */
function dataError(errors) {
  const text = errors.join('; ');
  const body = ack(false, '022', clip(text, 200));
  if (text.length > 200) body.StatusCode.AdditionalInfo = clip(text, 1000);
  return body;
}

/** "CN=...,O=..." (RFC 4514 order, most specific first) of a peer certificate subject. */
function subjectString(subject) {
  if (!subject) return null;
  const escape = (v) => String(v).replace(/([,+"\\<>;])/g, '\\$1');
  const rdns = [];
  for (const [k, v] of Object.entries(subject))
    for (const one of [].concat(v)) rdns.push(`${k}=${escape(one)}`);
  return rdns.length ? rdns.reverse().join(',') : null;
}

// ---------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------
const send = (res, status, body) => {
  if (res.destroyed || res.writableEnded) return;
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
};

/** What a script (or the default) makes of a request: a reply object, 'timeout' or 'close'. */
function outcomeOf(script, record) {
  try {
    const outcome = script ? script(record) : defaultAnswer(record);
    if (outcome === 'timeout' || outcome === 'close' || TYPE_CHECKS.object(outcome)) return outcome;
    throw new Error(`returned ${describe(outcome)}`);
  } catch (e) {
    return { status: 500, body: ack(false, '021', `mock-hubject: the script for ${record.op}: ${e.message}`) };
  }
}

/** The parsed body, or undefined when it is not JSON. */
function parse(raw) {
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}

export async function startMockHubject({ cert, key, ca, requireClientCert = true, operatorId = 'DE*ABC' }) {
  const scripts = new Map();
  const sockets = new Set();
  const timers = new Set();

  function answer(record, res) {
    const outcome = outcomeOf(scripts.get(record.op), record);
    if (outcome === 'timeout') return; // held until close()
    if (outcome === 'close') {
      res.socket?.destroy();
      return;
    }
    const reply = () => send(res, outcome.status ?? 200, outcome.body);
    if (!outcome.delayMs) {
      reply();
      return;
    }
    const timer = setTimeout(() => {
      timers.delete(timer);
      reply();
    }, outcome.delayMs);
    timers.add(timer);
  }

  function handle(req, res, raw) {
    const path = req.url.split('?')[0];
    const found = req.method === 'POST' ? route(path) : null;
    const body = parse(raw);
    const record = {
      op: found ? found.op : null,
      path,
      method: req.method,
      headers: req.headers,
      body: body === undefined ? null : body,
      raw,
      clientCertSubject: subjectString(req.socket.getPeerCertificate()?.subject),
      errors: found ? checkRequest(found, req.headers['content-type'], raw, body, operatorId)
        : [`${req.method} ${path}: no such operation`],
      time: Date.now(),
    };
    hub.requests.push(record);
    if (record.errors.length) hub.violations.push({ op: record.op, path, errors: record.errors });
    if (!found) send(res, 404, dataError(record.errors));
    else if (record.errors.length) send(res, 400, dataError(record.errors));
    else answer(record, res);
  }

  const server = https.createServer({
    cert, key, ca, requestCert: true, rejectUnauthorized: requireClientCert,
    requestTimeout: 0, // a 'timeout' script holds its request until close()
  }, (req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });

  const hub = {
    port: server.address().port,
    url: `https://127.0.0.1:${server.address().port}${BASE}`,
    requests: [],
    violations: [],
    respond(op, handler) {
      if (!Object.hasOwn(OPERATIONS, op)) throw new Error(`mock-hubject: unknown operation ${op}`);
      if (handler == null) scripts.delete(op);
      else scripts.set(op, typeof handler === 'function' ? handler : () => handler);
    },
    ops: (op) => hub.requests.filter((r) => r.op === op),
    reset() {
      hub.requests.length = 0;
      hub.violations.length = 0;
    },
    async waitFor(pred, ms = 10000, what = 'hub condition') {
      const deadline = Date.now() + ms;
      let lastError;
      for (;;) {
        try {
          const value = await pred(hub);
          if (value) return value;
        } catch (e) {
          lastError = e; // e.g. reading a request that has not arrived yet
        }
        if (Date.now() >= deadline)
          throw new Error(`timed out waiting for ${what}${lastError ? ` (last error: ${lastError.message})` : ''}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      const closed = new Promise((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      return closed;
    },
  };
  return hub;
}
