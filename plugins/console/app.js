// The pipelet operations console: a single page over the public REST API and its
// Server-Sent Events.  No framework, no build step.  Everything a station or a peer
// sent is written with textContent, never as HTML.
'use strict';

const ROW = 32;                 // px per fleet row (the list is virtualised)
const CHART_POINTS = 600;       // samples kept per power chart
const S = {
  key: sessionStorage.getItem('pipelet.key'),
  scope: 'read', system: null, sim: false,
  stations: new Map(),          // id -> {id, online, status, protocol, connectors, conns: {n: status}}
  order: [],                    // filtered ids, in display order
  stopEvents: null, listeners: new Set(), dirty: false, page: null, cleanup: [],
};

const $ = (sel, el = document) => el.querySelector(sel);
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'style') Object.assign(el.style, v); // CSSOM: a style attribute would break the CSP
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const kid of kids.flat()) {
    if (kid === null || kid === undefined || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const canOperate = () => S.scope === 'operator' || S.scope === 'admin';
const badge = (status) => h('span', { class: `badge st-${status || 'unknown'}` }, status || 'unknown');
const fmtTime = (t) => (t ? new Date(t).toLocaleString() : '');
const fmtKWh = (wh) => (typeof wh === 'number' ? `${(wh / 1000).toFixed(2)} kWh` : '');

async function api(method, path, body) {
  const headers = { 'X-API-Key': S.key || '' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let r;
  try {
    r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    return { status: 0, ok: false, data: { error: `the gateway did not answer (${e.message})`, code: 'NETWORK' } };
  }
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  return { status: r.status, ok: r.ok, data };
}
const errorText = (r) => `${r.status} ${(r.data && r.data.code) || ''} ${(r.data && r.data.error) || ''}`.trim();

// Server-Sent Events with the key in a header (EventSource cannot send one): fetch and a
// stream reader; reconnects after a second.  Returns a function that stops it.
function stream(path, onEvent) {
  const ctl = new AbortController();
  (async () => {
    while (!ctl.signal.aborted) {
      try {
        const r = await fetch(path, { headers: { 'X-API-Key': S.key }, signal: ctl.signal });
        if (!r.ok || !r.body) throw new Error(String(r.status));
        const reader = r.body.getReader();
        const dec = new TextDecoder();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += dec.decode(value, { stream: true });
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            let type = 'message', data = '';
            for (const line of block.split('\n')) {
              if (line.startsWith('event: ')) type = line.slice(7);
              else if (line.startsWith('data: ')) data += line.slice(6);
            }
            if (!data) continue;
            let parsed;
            try { parsed = JSON.parse(data); } catch { continue; }
            onEvent(type, parsed);
          }
        }
      } catch (e) {
        if (ctl.signal.aborted) return;
      }
      await sleep(1000);
    }
  })();
  return () => ctl.abort();
}

// ---------------------------------------------------------------- sign in
function showSignIn(message) {
  stopEverything();
  $('#nav').hidden = true;
  $('#signout').hidden = true;
  $('#who').textContent = '';
  const input = h('input', { type: 'password', id: 'key', placeholder: 'API key', autocomplete: 'off' });
  const err = h('p', { class: 'error', id: 'signin-error' }, message || '');
  const form = h('form', { class: 'card signin', id: 'signin', onsubmit: async (e) => {
    e.preventDefault();
    err.textContent = '';
    const m = await signIn(input.value.trim());
    if (m) err.textContent = m;
  } },
  h('h2', null, 'Sign in'),
  h('p', { class: 'muted' }, 'An API key of this gateway (X-API-Key). It stays in this browser tab only.'),
  input, h('button', { type: 'submit' }, 'Sign in'), err);
  $('#main').replaceChildren(form);
  input.focus();
}

async function signIn(key) {
  if (!key) return 'Type a key.';
  S.key = key;
  const r = await api('GET', '/api/v1/system');
  if (r.status === 401 || r.status === 403) {
    S.key = null;
    sessionStorage.removeItem('pipelet.key');
    return `That key was refused: ${errorText(r)}`;
  }
  if (!r.ok) return `The gateway answered ${errorText(r)}`;
  sessionStorage.setItem('pipelet.key', key);
  S.system = r.data;
  S.scope = (r.data.caller && r.data.caller.scope) || 'read';
  S.sim = (await api('GET', '/sim/v1/report')).ok;
  $('#nav-sim').hidden = !S.sim;
  $('#nav').hidden = false;
  $('#signout').hidden = false;
  $('#who').textContent = `${(r.data.caller && r.data.caller.key) || 'key'} · ${S.scope}${canOperate() ? '' : ' (read-only)'}`;
  await loadFleet();
  startEvents();
  if (!location.hash || location.hash === '#/') location.hash = '#/fleet';
  else route();
  return null;
}

function stopEverything() {
  if (S.stopEvents) S.stopEvents();
  S.stopEvents = null;
  for (const f of S.cleanup) f();
  S.cleanup = [];
}

// ---------------------------------------------------------------- live state
async function loadFleet() {
  const r = await api('GET', '/api/v1/stations/compact');
  if (!r.ok) return;
  const seen = new Set();
  for (const s of r.data) {
    const cur = S.stations.get(s.id) || { conns: {} };
    S.stations.set(s.id, Object.assign(cur, s));
    seen.add(s.id);
  }
  for (const id of [...S.stations.keys()]) if (!seen.has(id)) S.stations.delete(id);
  refilter();
}

function overall(st) {
  const c = Object.values(st.conns);
  if (c.includes('Faulted')) return 'Faulted';
  if (c.includes('Charging')) return 'Charging';
  return c.length ? c[c.length - 1] : st.status;
}

function startEvents() {
  if (S.stopEvents) S.stopEvents();
  S.stopEvents = stream('/api/v1/events?types=station.*,transaction.*,meter.values,command.completed', (type, ev) => {
    const id = ev.station;
    if (id && type.startsWith('station.')) {
      let st = S.stations.get(id);
      if (!st) {
        st = { id, online: true, status: null, protocol: null, connectors: 0, conns: {} };
        S.stations.set(id, st);
        S.order = null; // a new station: filter again
      }
      if (type === 'station.connected') st.online = true;
      else if (type === 'station.disconnected') st.online = false;
      else if (type === 'station.status' && ev.data) {
        if (ev.data.connector > 0 || ev.data.evse > 0) st.conns[ev.data.evse || ev.data.connector] = ev.data.status;
        st.status = overall(st);
      } else if (type === 'station.boot' && ev.data) st.online = true;
      markDirty();
    }
    for (const f of S.listeners) f(type, ev);
  });
}

function markDirty() {
  if (S.dirty) return;
  S.dirty = true;
  requestAnimationFrame(() => {
    S.dirty = false;
    if (S.order === null) refilter();
    if (S.page === 'fleet') renderFleetRows(true);
  });
}

// ---------------------------------------------------------------- fleet
const fleetFilter = { q: '', status: '', online: '' };

function refilter() {
  const q = fleetFilter.q.toLowerCase();
  S.order = [...S.stations.values()]
    .filter((s) => (!q || s.id.toLowerCase().includes(q)) &&
      (!fleetFilter.status || (s.status || 'unknown') === fleetFilter.status) &&
      (!fleetFilter.online || String(!!s.online) === fleetFilter.online))
    .map((s) => s.id).sort();
}

function pageFleet(main) {
  const counts = h('div', { class: 'counts', id: 'counts' });
  const list = h('div', { class: 'list', id: 'fleet-list' }, h('div', { class: 'spacer' }));
  const search = h('input', { placeholder: 'Search station id', id: 'fleet-search', value: fleetFilter.q,
    oninput: (e) => { fleetFilter.q = e.target.value; refilter(); renderFleetRows(false); } });
  const statuses = ['', 'Available', 'Preparing', 'Charging', 'SuspendedEV', 'SuspendedEVSE', 'Finishing', 'Reserved',
    'Unavailable', 'Faulted', 'Occupied'];
  const status = h('select', { id: 'fleet-status', onchange: (e) => { fleetFilter.status = e.target.value; refilter(); renderFleetRows(false); } },
    statuses.map((s) => h('option', { value: s, selected: s === fleetFilter.status }, s || 'any status')));
  const online = h('select', { id: 'fleet-online', onchange: (e) => { fleetFilter.online = e.target.value; refilter(); renderFleetRows(false); } },
    h('option', { value: '' }, 'online or not'), h('option', { value: 'true' }, 'online'), h('option', { value: 'false' }, 'offline'));
  main.replaceChildren(h('h2', null, 'Fleet'), h('div', { class: 'card' }, h('div', { class: 'row' }, search, status, online), counts), list);
  list.addEventListener('scroll', () => renderFleetRows(false));
  refilter();
  renderFleetRows(false);
  const timer = setInterval(loadFleet, 30000); // the events keep it live; this catches up on gaps
  S.cleanup.push(() => clearInterval(timer));
}

function renderFleetRows() {
  const list = $('#fleet-list');
  if (!list || !S.order) return;
  const spacer = list.firstChild;
  spacer.style.height = `${S.order.length * ROW}px`;
  const first = Math.max(0, Math.floor(list.scrollTop / ROW) - 5);
  const last = Math.min(S.order.length, first + Math.ceil(list.clientHeight / ROW) + 10);
  const rows = [];
  for (let i = first; i < last; i++) {
    const st = S.stations.get(S.order[i]);
    if (!st) continue;
    const conns = Object.keys(st.conns).sort((a, b) => a - b).map((n) => h('span', { class: `badge st-${st.conns[n]}`, title: `connector ${n}` }, `${n}: ${st.conns[n]}`));
    rows.push(h('div', { class: 'item', style: { top: `${i * ROW}px` }, dataset: { station: st.id, status: st.status || '' } },
      h('span', { class: `dot ${st.online ? 'on' : ''}`, title: st.online ? 'online' : 'offline' }),
      h('a', { href: `#/station/${encodeURIComponent(st.id)}` }, st.id),
      h('span', { class: 'muted' }, st.protocol || ''),
      h('span', { class: 'status' }, badge(st.online ? st.status : (st.status || 'offline'))),
      h('span', null, conns)));
  }
  spacer.replaceChildren(...rows);
  const by = {};
  let online = 0;
  for (const s of S.stations.values()) {
    by[s.status || 'unknown'] = (by[s.status || 'unknown'] || 0) + 1;
    if (s.online) online++;
  }
  $('#counts').replaceChildren(h('span', null, `${S.stations.size} stations`), h('span', null, `${online} online`),
    ...Object.entries(by).sort().map(([k, v]) => h('span', null, badge(k), v)));
}

// ---------------------------------------------------------------- a station
function powerChart() {
  const canvas = h('canvas', { id: 'power', width: 900, height: 180, dataset: { points: '0' } });
  const pts = [];
  const draw = () => {
    const ctx = canvas.getContext('2d');
    const W = canvas.width, H = canvas.height;
    ctx.clearRect(0, 0, W, H);
    ctx.fillStyle = '#6b7385';
    ctx.font = '12px sans-serif';
    if (!pts.length) { ctx.fillText('no power samples yet', 10, 20); return; }
    const t0 = pts[0].t, t1 = Math.max(pts[pts.length - 1].t, t0 + 1000);
    const max = Math.max(1000, ...pts.map((p) => p.w)) * 1.1;
    ctx.fillText(`${(pts[pts.length - 1].w / 1000).toFixed(2)} kW now · max ${(max / 1100).toFixed(1)} kW`, 10, 16);
    ctx.strokeStyle = '#1f6feb';
    ctx.lineWidth = 2;
    ctx.beginPath();
    pts.forEach((p, i) => {
      const x = 10 + ((p.t - t0) / (t1 - t0)) * (W - 20), y = H - 10 - (p.w / max) * (H - 30);
      if (i) ctx.lineTo(x, y); else ctx.moveTo(x, y);
    });
    ctx.stroke();
  };
  const add = (t, w) => {
    pts.push({ t, w });
    while (pts.length > CHART_POINTS) pts.shift();
    canvas.dataset.points = String(pts.length);
    canvas.dataset.last = String(w);
    draw();
  };
  draw();
  return { canvas, add, reset: () => { pts.length = 0; canvas.dataset.points = '0'; draw(); } };
}

const powerOf = (sample) => {
  if (sample.measurand !== 'Power.Active.Import') return null;
  const v = Number(sample.value);
  return sample.unit === 'kW' ? v * 1000 : v;
};

async function pageStation(main, id) {
  const r = await api('GET', `/api/v1/stations/${encodeURIComponent(id)}`);
  if (!r.ok) {
    main.replaceChildren(h('h2', null, id), h('p', { class: 'error' }, errorText(r)));
    return;
  }
  const st = r.data;
  const outcome = h('div', { class: 'outcome', id: 'outcome' });
  const chart = powerChart();
  const conns = h('tbody');
  const sessionInfo = h('div', { id: 'session' });
  const msgs = h('tbody');
  const config = h('div', { id: 'config' });
  let active = (st.active_transactions || [])[0] || null;

  const run = async (label, method, path, body) => {
    outcome.textContent = `${label}…`;
    const res = await api(method, path, body);
    outcome.textContent = `${label}: ${res.ok ? 'done' : 'refused'} — ${res.status} ${JSON.stringify(res.data)}`;
    outcome.className = `outcome ${res.ok ? '' : 'error'}`;
    setTimeout(refresh, 500);
    return res;
  };

  const renderConnectors = (view) => {
    const rows = [];
    for (const e of view.evses || []) {
      for (const c of e.connectors || []) {
        const n = e.evse;
        const tx = (view.active_transactions || []).find((t) => t.evse === n);
        const token = h('input', { placeholder: 'ID token', value: 'CONSOLE', size: 10, class: 'token' });
        const cmds = canOperate() ? h('td', { class: 'commands' },
          tx ? h('button', { class: 'cmd-stop', onclick: () => run(`stop ${tx.id}`, 'POST', `/api/v1/transactions/${tx.id}/stop`, {}) }, 'Remote stop')
            : [token, h('button', { class: 'cmd-start', onclick: () => run(`start on ${n}`, 'POST', '/api/v1/transactions', { station_id: id, connector: n, id_token: token.value || 'CONSOLE' }) }, 'Remote start')],
          h('button', { class: 'secondary cmd-unlock', onclick: () => run(`unlock ${n}`, 'POST', `/api/v1/stations/${encodeURIComponent(id)}/connectors/${n}/unlock`, {}) }, 'Unlock'),
          h('button', { class: 'secondary cmd-availability', onclick: () => run(`availability ${n}`, 'POST', `/api/v1/stations/${encodeURIComponent(id)}/availability`, { connector: n, type: c.status === 'Unavailable' ? 'Operative' : 'Inoperative' }) }, c.status === 'Unavailable' ? 'Make operative' : 'Make inoperative'))
          : null;
        rows.push(h('tr', { dataset: { connector: String(n) } }, h('td', null, n), h('td', { class: 'status' }, badge(c.status)), h('td', null, c.error_code || ''),
          h('td', null, tx ? `session ${tx.id} · ${fmtKWh(tx.energy_wh)}` : ''), cmds));
      }
    }
    conns.replaceChildren(...rows);
  };

  const loadSession = async () => {
    chart.reset();
    if (!active) { sessionInfo.replaceChildren(h('p', { class: 'muted' }, 'No session running.')); return; }
    const t = await api('GET', `/api/v1/transactions/${active.id}`);
    if (!t.ok) return;
    sessionInfo.replaceChildren(h('table', { class: 'kv' }, h('tbody', null,
      h('tr', null, h('td', null, 'session'), h('td', null, String(t.data.id))),
      h('tr', null, h('td', null, 'token'), h('td', null, t.data.id_token || '')),
      h('tr', null, h('td', null, 'started'), h('td', null, fmtTime(t.data.started_at))),
      h('tr', null, h('td', null, 'energy'), h('td', null, fmtKWh(t.data.energy_wh))))));
    for (const m of t.data.meter_values || []) {
      const w = powerOf(m);
      if (w !== null) chart.add(Date.parse(m.timestamp), w);
    }
  };

  const loadMessages = async () => {
    const m = await api('GET', `/ocpp/v1/stations/${encodeURIComponent(id)}/messages?limit=40`);
    if (!m.ok) return;
    const items = Array.isArray(m.data) ? m.data : (m.data.items || []);
    msgs.replaceChildren(...items.slice().reverse().map((x) => h('tr', null, h('td', { class: 'muted' }, fmtTime(x.time)),
      h('td', null, x.dir === 'in' ? '→ in' : '← out'), h('td', null, h('pre', null, JSON.stringify(x.frame).slice(0, 400))))));
  };

  const refresh = async () => {
    const v = await api('GET', `/api/v1/stations/${encodeURIComponent(id)}`);
    if (!v.ok) return;
    const before = active && active.id;
    active = (v.data.active_transactions || [])[0] || null;
    renderConnectors(v.data);
    $('#station-online').replaceChildren(badge(v.data.online ? 'online' : 'offline'));
    if ((active && active.id) !== before) await loadSession();
  };

  const commands = canOperate() ? h('div', { class: 'row', id: 'station-commands' },
    h('button', { class: 'secondary cmd-reset', onclick: () => run('soft reset', 'POST', `/api/v1/stations/${encodeURIComponent(id)}/reset`, { type: 'Soft' }) }, 'Soft reset'),
    h('button', { class: 'secondary cmd-reset', onclick: () => run('hard reset', 'POST', `/api/v1/stations/${encodeURIComponent(id)}/reset`, { type: 'Hard' }) }, 'Hard reset'),
    outcome) : h('p', { class: 'muted', id: 'read-only' }, 'Read-only key: commands are hidden.');

  main.replaceChildren(
    h('h2', null, id, ' ', h('span', { id: 'station-online' }, badge(st.online ? 'online' : 'offline'))),
    h('div', { class: 'card' }, h('table', { class: 'kv' }, h('tbody', null,
      ['protocol', 'vendor', 'model', 'firmware', 'serial', 'last_seen'].map((k) => h('tr', null, h('td', null, k), h('td', null, k === 'last_seen' ? fmtTime(st[k]) : (st[k] || '')))))),
    commands),
    h('div', { class: 'card' }, h('h3', null, 'Connectors'), h('table', null, h('thead', null, h('tr', null, h('th', null, '#'), h('th', null, 'status'), h('th', null, 'error'), h('th', null, 'session'), canOperate() ? h('th', null, 'commands') : null)), conns)),
    h('div', { class: 'card' }, h('h3', null, 'Session power'), sessionInfo, chart.canvas),
    h('div', { class: 'card' }, h('h3', null, 'Configuration'), h('button', { class: 'secondary', id: 'read-config', onclick: async () => {
      config.textContent = 'asking the station…';
      const c = await api('GET', `/api/v1/stations/${encodeURIComponent(id)}/configuration`);
      if (!c.ok) { config.textContent = errorText(c); return; }
      const keys = c.data.keys || c.data.items || [];
      config.replaceChildren(h('table', null, h('tbody', null, keys.map((k) => h('tr', null, h('td', null, k.key), h('td', null, k.value === undefined ? '' : String(k.value)), h('td', { class: 'muted' }, k.readonly ? 'read-only' : ''))))));
    } }, 'Read configuration'), config),
    h('div', { class: 'card' }, h('h3', null, 'OCPP messages'), h('div', { class: 'msgs' }, h('table', null, msgs))));
  renderConnectors(st);
  await loadSession();
  await loadMessages();
  const listener = (type, ev) => {
    if (ev.station !== id) return;
    if (type === 'meter.values' && active && ev.data && (!ev.data.station_tx_id || ev.data.station_tx_id === active.station_tx_id)) {
      for (const s of ev.data.samples || []) {
        const w = powerOf(s);
        if (w !== null) chart.add(Date.parse(s.timestamp) || Date.now(), w);
      }
    } else if (type.startsWith('transaction.') || type === 'station.status' || type === 'station.connected' || type === 'station.disconnected') {
      refresh();
    }
  };
  S.listeners.add(listener);
  const timer = setInterval(loadMessages, 3000);
  S.cleanup.push(() => { S.listeners.delete(listener); clearInterval(timer); });
}

// ---------------------------------------------------------------- sessions
async function pageSessions(main) {
  const activeBody = h('tbody'), recentBody = h('tbody');
  const row = (t) => h('tr', null, h('td', null, String(t.id)), h('td', null, h('a', { href: `#/station/${encodeURIComponent(t.station_id)}` }, t.station_id)),
    h('td', null, t.evse), h('td', null, t.id_token || ''), h('td', null, fmtTime(t.started_at)), h('td', null, fmtTime(t.stopped_at)),
    h('td', null, fmtKWh(t.energy_wh)), h('td', null, t.cost === null || t.cost === undefined ? '' : String(t.cost)));
  const head = () => h('thead', null, h('tr', null, ['id', 'station', 'evse', 'token', 'started', 'stopped', 'energy', 'cost'].map((x) => h('th', null, x))));
  main.replaceChildren(h('h2', null, 'Sessions'),
    h('div', { class: 'card' }, h('h3', null, 'Charging now'), h('table', { id: 'active-sessions' }, head(), activeBody)),
    h('div', { class: 'card' }, h('h3', null, 'Recent'), h('table', { id: 'recent-sessions' }, head(), recentBody)));
  const load = async () => {
    const [a, r] = await Promise.all([api('GET', '/api/v1/transactions?active=true&limit=200'), api('GET', '/api/v1/transactions?active=false&limit=50')]);
    if (a.ok) activeBody.replaceChildren(...(a.data.items || []).map(row));
    if (r.ok) recentBody.replaceChildren(...(r.data.items || []).map(row));
  };
  await load();
  const listener = (type) => { if (type.startsWith('transaction.')) load(); };
  S.listeners.add(listener);
  S.cleanup.push(() => S.listeners.delete(listener));
}

// ---------------------------------------------------------------- simulator
async function pageSimulator(main) {
  if (!S.sim) { main.replaceChildren(h('p', { class: 'muted' }, 'The simulator plugin is not loaded.')); return; }
  const fleets = h('tbody'), log = h('tbody'), out = h('div', { class: 'outcome' });
  const load = async () => {
    const f = await api('GET', '/sim/v1/fleets');
    const items = f.ok ? (Array.isArray(f.data) ? f.data : (f.data.items || f.data.fleets || [])) : [];
    fleets.replaceChildren(...items.map((x) => h('tr', null, h('td', null, x.id || x.fleet_id), h('td', null, x.count || (x.stations && x.stations.length) || ''), h('td', null, (x.template && x.template.protocol) || x.protocol || ''))));
  };
  const count = h('input', { type: 'number', value: 5, min: 1, max: 10000, id: 'sim-count' });
  const proto = h('select', { id: 'sim-protocol' }, h('option', null, 'ocpp1.6'), h('option', null, 'ocpp2.0.1'));
  const prefix = h('input', { value: 'CON', id: 'sim-prefix', size: 8 });
  const fstation = h('input', { placeholder: 'station id', id: 'fault-station' });
  const ftype = h('select', { id: 'fault-type' }, ['connector_fault', 'clear_connector_fault', 'network_drop', 'drop', 'delay', 'callerror'].map((t) => h('option', null, t)));
  const fconn = h('input', { type: 'number', value: 1, min: 1, id: 'fault-connector', size: 3 });
  const controls = canOperate() ? [
    h('div', { class: 'card' }, h('h3', null, 'Start a fleet'), h('div', { class: 'row' }, count, proto, prefix,
      h('button', { id: 'sim-create', onclick: async () => {
        const r = await api('POST', '/sim/v1/fleets', { count: Number(count.value), id_prefix: prefix.value, template: { protocol: proto.value, meter_interval_s: 5 } });
        out.textContent = `${r.status} ${JSON.stringify(r.data)}`;
        await load();
        setTimeout(loadFleet, 2000);
      } }, 'Start')), out),
    h('div', { class: 'card' }, h('h3', null, 'Inject a fault'), h('div', { class: 'row' }, fstation, ftype, fconn,
      h('button', { id: 'fault-inject', onclick: async () => {
        const r = await api('POST', `/sim/v1/stations/${encodeURIComponent(fstation.value)}/faults`, { type: ftype.value, connector: Number(fconn.value), action: '*' });
        out.textContent = `${r.status} ${JSON.stringify(r.data)}`;
      } }, 'Inject')))] : [h('p', { class: 'muted' }, 'Read-only key: fleets and faults are hidden.')];
  main.replaceChildren(h('h2', null, 'Simulator'),
    h('div', { class: 'card' }, h('h3', null, 'Fleets'), h('table', null, h('thead', null, h('tr', null, h('th', null, 'fleet'), h('th', null, 'stations'), h('th', null, 'protocol'))), fleets)),
    ...controls,
    h('div', { class: 'card' }, h('h3', null, 'Message stream'), h('div', { class: 'msgs' }, h('table', { id: 'sim-stream' }, log))));
  await load();
  const stop = stream('/sim/v1/events', (type, ev) => {
    log.prepend(h('tr', null, h('td', { class: 'muted' }, fmtTime(ev.time)), h('td', null, ev.station), h('td', null, ev.dir), h('td', null, ev.action || ''),
      h('td', null, h('pre', null, JSON.stringify(ev.frame).slice(0, 300)))));
    while (log.children.length > 100) log.lastChild.remove();
  });
  S.cleanup.push(stop);
}

// ---------------------------------------------------------------- gateway
async function pageGateway(main) {
  const kv = (obj) => h('table', { class: 'kv' }, h('tbody', null, Object.entries(obj || {}).map(([k, v]) => h('tr', null, h('td', null, k),
    h('td', null, v !== null && typeof v === 'object' ? h('pre', null, JSON.stringify(v)) : String(v))))));
  const [health, system] = await Promise.all([api('GET', '/api/v1/health'), api('GET', '/api/v1/system')]);
  const hd = health.data || {};
  const flat = (o) => Object.fromEntries(Object.entries(o || {}).filter(([, v]) => v === null || typeof v !== 'object'));
  const cards = [
    h('div', { class: 'card', id: 'health' }, h('h3', null, 'Health'),
      kv({ status: hd.status, version: hd.version, uptime_s: hd.uptime_s, stations_online: hd.stations_online })),
    h('div', { class: 'card', id: 'database' }, h('h3', null, 'Database pool'), kv(flat(hd.database))),
    h('div', { class: 'card', id: 'websocket' }, h('h3', null, 'WebSocket layer'), kv(flat(hd.websocket))),
    h('div', { class: 'card' }, h('h3', null, 'System'), kv(system.data)),
  ];
  if (S.scope === 'admin') {
    const w = await api('GET', '/api/v1/webhooks');
    const items = w.ok ? (w.data.items || w.data || []) : [];
    const why = w.status === 404 ? 'The webhooks plugin is not loaded.' : w.ok ? 'No subscriptions.' : errorText(w);
    cards.push(h('div', { class: 'card', id: 'webhooks' }, h('h3', null, 'Webhooks'), items.length ? h('table', null, h('tbody', null, items.map((x) => h('tr', null,
      h('td', null, x.url), h('td', null, (x.events || []).join(', ')), h('td', null, x.enabled === false ? 'disabled' : 'enabled'),
      h('td', { class: 'muted' }, x.stats ? JSON.stringify(x.stats) : ''))))) : h('p', { class: 'muted' }, why)));
  }
  main.replaceChildren(h('h2', null, 'Gateway'), ...cards);
}

// ---------------------------------------------------------------- routing
async function route() {
  if (!S.key || !S.system) return;
  for (const f of S.cleanup) f();
  S.cleanup = [];
  const [, page, arg] = (location.hash || '#/fleet').match(/^#\/([a-z]+)\/?(.*)$/) || [null, 'fleet', ''];
  S.page = page;
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.page === page || (page === 'station' && a.dataset.page === 'fleet'));
  const main = $('#main');
  main.dataset.page = page;
  if (page === 'station') await pageStation(main, decodeURIComponent(arg));
  else if (page === 'sessions') await pageSessions(main);
  else if (page === 'simulator') await pageSimulator(main);
  else if (page === 'gateway') await pageGateway(main);
  else pageFleet(main);
}

window.addEventListener('hashchange', route);
$('#signout').addEventListener('click', () => {
  sessionStorage.removeItem('pipelet.key');
  S.key = null;
  S.system = null;
  S.stations.clear();
  showSignIn('Signed out.');
});
if (S.key) signIn(S.key).then((m) => { if (m) showSignIn(m); });
else showSignIn();
