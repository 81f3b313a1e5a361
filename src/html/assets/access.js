// The access view of mcp-access's pages: filters, a matrix of MCP servers x apps, a
// list, a graph and a details panel, drawn from the JSON in #access-data. Only what is
// on screen exists in the DOM (the matrix and the graph redraw their visible window on
// scroll; the list grows by pages), so 1,000 servers x 10,000 apps stay responsive.
// The state lives in the address's fragment (#server=..&app=..&access=..&declared=..
// &view=..&pair=<server uid>><app uid>), so a filtered view can be linked to.
(function () {
  'use strict';
  var dataNode = document.getElementById('access-data');
  var root = document.getElementById('access');
  if (!dataNode || !root) return;
  var D = JSON.parse(dataNode.textContent);
  var APPS = D.apps, POLICIES = D.policies, PAIRS = D.pairs;
  var NA = APPS.length;
  var LABEL = D.labels.access;
  var GLYPH = ['\u2713', '?', '\u2298', '\u2013'];
  var CLS = ['a-granted', 'a-depends', 'a-blocked', 'a-none'];
  var F_DECLARED = 1, F_UNDECLARED = 2, F_MISSING = 4, F_MANAGED = 8;
  var $ = function (id) { return document.getElementById(id); };

  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }
  function name(i) { return APPS[i][0] || APPS[i][1]; }
  var lower = APPS.map(function (a) { return [a[0].toLowerCase(), a[1].toLowerCase()]; });
  var byUid = new Map();
  APPS.forEach(function (a, i) { byUid.set(a[1], i); });
  var pairAt = new Map();
  PAIRS.forEach(function (p, k) { pairAt.set(p[0] * NA + p[1], k); });

  // ---- Filters and the fragment -------------------------------------------------
  var form = root.querySelector('form.filters');
  var fServer = $('f-server'), fApp = $('f-app'), fDeclared = $('f-declared');
  var fAccess = Array.prototype.slice.call(form.querySelectorAll('input[name=access]'));
  var ACCESS_KEYS = ['granted', 'depends', 'blocked', 'none'];
  var view = 'matrix';
  var selected = -1;

  function readFragment() {
    var q = new URLSearchParams(location.hash.slice(1));
    fServer.value = q.get('server') || '';
    fApp.value = q.get('app') || '';
    var access = q.get('access');
    fAccess.forEach(function (box, i) {
      box.checked = access === null || access.split(',').indexOf(ACCESS_KEYS[i]) >= 0;
    });
    fDeclared.value = ['yes', 'no'].indexOf(q.get('declared')) >= 0 ? q.get('declared') : '';
    var v = q.get('view');
    view = v === 'list' || v === 'graph' ? v : 'matrix';
    selected = -1;
    var pair = q.get('pair');
    if (pair) {
      var ends = pair.split('>');
      var k = pairAt.get(byUid.get(ends[0]) * NA + byUid.get(ends[1]));
      if (k !== undefined) selected = k;
    }
  }
  function writeFragment() {
    var q = new URLSearchParams();
    if (fServer.value.trim()) q.set('server', fServer.value.trim());
    if (fApp.value.trim()) q.set('app', fApp.value.trim());
    var on = fAccess.filter(function (b) { return b.checked; }).map(function (b) { return ACCESS_KEYS[+b.value]; });
    if (on.length < 4) q.set('access', on.join(','));
    if (fDeclared.value) q.set('declared', fDeclared.value);
    if (view !== 'matrix') q.set('view', view);
    if (selected >= 0) q.set('pair', APPS[PAIRS[selected][0]][1] + '>' + APPS[PAIRS[selected][1]][1]);
    var hash = q.toString();
    try { history.replaceState(null, '', hash ? '#' + hash : location.pathname + location.search); } catch (e) { /* a sandboxed viewer */ }
  }

  // A name or uid; an exact match (case aside) wins over a part of one.
  function matcher(text) {
    var t = text.trim().toLowerCase();
    if (!t) return null;
    var exact = new Set();
    for (var i = 0; i < NA; i++) if (lower[i][0] === t || lower[i][1] === t) exact.add(i);
    if (exact.size) return function (i) { return exact.has(i); };
    return function (i) { return lower[i][0].indexOf(t) >= 0 || lower[i][1].indexOf(t) >= 0; };
  }

  // The filtered pairs, and the servers (rows) and apps (columns) they name.
  var shown = [], inShown = new Uint8Array(PAIRS.length), rows = [], cols = [];
  var rowOf = new Int32Array(NA), colOf = new Int32Array(NA);
  function applyFilter() {
    var server = matcher(fServer.value), app = matcher(fApp.value);
    var access = fAccess.map(function (b) { return b.checked; });
    var declared = fDeclared.value;
    shown = [];
    inShown.fill(0);
    var isRow = new Uint8Array(NA), isCol = new Uint8Array(NA);
    for (var k = 0; k < PAIRS.length; k++) {
      var p = PAIRS[k];
      if (server && !server(p[0])) continue;
      if (app && !app(p[1])) continue;
      if (!access[p[2]]) continue;
      if (declared === 'yes' && !(p[3] & F_DECLARED)) continue;
      if (declared === 'no' && (p[3] & F_DECLARED)) continue;
      shown.push(k);
      inShown[k] = 1;
      isRow[p[0]] = 1;
      isCol[p[1]] = 1;
    }
    rows = []; cols = [];
    rowOf.fill(-1); colOf.fill(-1);
    for (var i = 0; i < NA; i++) {
      if (isRow[i]) { rowOf[i] = rows.length; rows.push(i); }
      if (isCol[i]) { colOf[i] = cols.length; cols.push(i); }
    }
    var filtered = shown.length !== PAIRS.length;
    $('shown').textContent = (filtered ? 'Showing ' + shown.length + ' of ' + PAIRS.length : 'All ' + PAIRS.length) +
      ' pair' + (PAIRS.length === 1 ? '' : 's') + ': ' + rows.length + ' MCP server' + (rows.length === 1 ? '' : 's') +
      ' \u00d7 ' + cols.length + ' app' + (cols.length === 1 ? '' : 's') + '.';
  }

  function refresh() {
    applyFilter();
    matrix.reset();
    list.reset();
    graph.reset();
    showView();
    details();
    writeFragment();
  }

  // ---- Words for a pair -----------------------------------------------------------
  function declaredText(p) {
    if (p[3] & F_UNDECLARED) return 'not declared: undeclared access';
    if (p[3] & F_MISSING) return 'declared, but missing';
    return p[3] & F_DECLARED ? 'declared' : 'not declared';
  }
  function ruleText(text) {
    // A linked_app_token rule names a uid: add the app's name when the report has it.
    var m = /^linked_app_token (\S+)$/.exec(text);
    if (m && byUid.has(m[1])) return text + ' (' + name(byUid.get(m[1])) + ')';
    return text;
  }
  function grantHtml(g, withRules) {
    var pol = POLICIES[g[0]];
    var html = '<strong>\u201c' + esc(pol.name) + '\u201d</strong> (' + esc(pol.decision) + ', ' + esc(pol.management) +
      (pol.reusable ? '' : ', app-scoped legacy policy') + ', precedence ' + g[1] + '): <span class="' + CLS[g[2]] + '">' +
      esc(LABEL[g[2]]) + '</span>';
    if (withRules && pol.rules.length) {
      html += '<ul>' + pol.rules.map(function (r, i) {
        var list = r[0] === 0 ? 'exclude' : 'require';
        return '<li>' + list + ' <code>' + esc(ruleText(r[1])) + '</code>: ' + esc(D.labels.effects[r[0]][+g[3].charAt(i)]) + '</li>';
      }).join('') + '</ul>';
    }
    return html;
  }

  // ---- Details panel --------------------------------------------------------------
  function details() {
    var body = $('details-body');
    if (selected < 0 || !inShown[selected]) {
      body.innerHTML = '<p>Select a cell of the matrix, a row of the list or an arrow of the graph to see the policies behind it.</p>';
      return;
    }
    var p = PAIRS[selected], from = APPS[p[0]], to = APPS[p[1]];
    var html = '<h4>' + esc(name(p[0])) + ' \u2192 ' + esc(name(p[1])) + '</h4>' +
      '<p class="verdict ' + CLS[p[2]] + '">' + GLYPH[p[2]] + ' ' + esc(LABEL[p[2]]) + '; ' + esc(declaredText(p)) + '</p>' +
      '<dl><dt>MCP server</dt><dd>' + esc(from[0] || '(no such app)') + ' <code>' + esc(from[1]) + '</code></dd>' +
      '<dt>App</dt><dd>' + esc(to[0] || '(no such app)') + ' <code>' + esc(to[1]) + '</code>' + (to[2] ? ' (' + esc(to[2]) + ')' : '') + '</dd></dl>';
    if (p[3] & F_UNDECLARED) html += '<p class="flag">The account lets this server in, but the manifest does not declare the link: declare it, or remove the policy from the app.</p>';
    if (p[3] & F_MISSING) html += '<p class="flag missing">The manifest declares this link, but no policy lets the server in: run <code>mcp-access reconcile</code>.</p>';
    if (p[4].length) {
      html += '<h4>Policies naming the server, by precedence</h4><ol>' + p[4].map(function (g) {
        return '<li>' + grantHtml(g, true) + ' <code>' + esc(POLICIES[g[0]].id) + '</code></li>';
      }).join('') + '</ol>';
    } else {
      html += '<p>No attached policy names this server.</p>';
    }
    body.innerHTML = html;
  }
  function select(k, from) {
    selected = k;
    details();
    matrix.markSelected();
    list.markSelected();
    graph.markSelected();
    writeFragment();
    if (from === 'link') matrix.reveal(k);
  }

  // ---- Tabs -----------------------------------------------------------------------
  var tabs = ['matrix', 'list', 'graph'];
  function showView() {
    tabs.forEach(function (t) {
      var tab = $('tab-' + t), on = t === view;
      tab.setAttribute('aria-selected', on ? 'true' : 'false');
      tab.tabIndex = on ? 0 : -1;
      $('view-' + t).hidden = !on;
    });
    if (view === 'matrix') matrix.draw(true);
    if (view === 'list') list.draw();
    if (view === 'graph') graph.draw(true);
  }
  root.querySelector('[role=tablist]').addEventListener('keydown', function (e) {
    var i = tabs.indexOf(view);
    if (e.key === 'ArrowRight') i = (i + 1) % 3;
    else if (e.key === 'ArrowLeft') i = (i + 2) % 3;
    else if (e.key === 'Home') i = 0;
    else if (e.key === 'End') i = 2;
    else return;
    e.preventDefault();
    view = tabs[i];
    showView();
    writeFragment();
    $('tab-' + view).focus();
  });
  tabs.forEach(function (t) {
    $('tab-' + t).addEventListener('click', function () { view = t; showView(); writeFragment(); });
  });

  // ---- Matrix ---------------------------------------------------------------------
  // A real table (role=grid) holding only the rows and columns on screen, placed where
  // they belong inside a sizer as large as the whole matrix; headers stick.
  var matrix = (function () {
    var scroller = $('matrix-scroll'), sizer = $('matrix-sizer'), table = $('matrix');
    var css = getComputedStyle(document.documentElement);
    var px = function (v, d) { return parseFloat(css.getPropertyValue(v)) || d; };
    var ROW_H = px('--row-h', 28), COL_W = px('--col-w', 30), HEAD_W = px('--head-w', 260), HEAD_H = px('--head-h', 150);
    var win = null, active = { r: 0, c: 0 };
    function size() {
      sizer.style.width = (HEAD_W + cols.length * COL_W) + 'px';
      sizer.style.height = (HEAD_H + rows.length * ROW_H) + 'px';
      table.setAttribute('aria-rowcount', String(rows.length + 1));
      table.setAttribute('aria-colcount', String(cols.length + 1));
    }
    function reset() { win = null; active = { r: 0, c: 0 }; scroller.scrollTop = 0; scroller.scrollLeft = 0; size(); }
    function windowNow() {
      var st = scroller.scrollTop, sl = scroller.scrollLeft;
      var h = scroller.clientHeight || 600, w = scroller.clientWidth || 900;
      return {
        r0: Math.max(0, Math.floor(st / ROW_H) - 2),
        r1: Math.min(rows.length, Math.ceil((st + h - HEAD_H) / ROW_H) + 2),
        c0: Math.max(0, Math.floor(sl / COL_W) - 2),
        c1: Math.min(cols.length, Math.ceil((sl + w - HEAD_W) / COL_W) + 2)
      };
    }
    function cellLabel(k) {
      var p = PAIRS[k];
      return name(p[0]) + ' \u2192 ' + name(p[1]) + ': ' + LABEL[p[2]] + ', ' + declaredText(p);
    }
    function draw(force) {
      if (view !== 'matrix') return;
      if (!shown.length) {
        table.innerHTML = '<caption>No pair matches the filter.</caption>';
        win = null;
        return;
      }
      var w = windowNow();
      if (!force && win && w.r0 === win.r0 && w.r1 === win.r1 && w.c0 === win.c0 && w.c1 === win.c1) return;
      var hadFocus = table.contains(document.activeElement);
      win = w;
      if (!hadFocus && !inWindow(active.r, active.c)) {
        active = { r: Math.min(rows.length - 1, Math.max(w.r0, Math.ceil(scroller.scrollTop / ROW_H))), c: Math.min(cols.length - 1, Math.max(w.c0, Math.ceil(scroller.scrollLeft / COL_W))) };
      }
      table.style.top = (w.r0 * ROW_H) + 'px';
      table.style.left = (w.c0 * COL_W) + 'px';
      table.style.width = (HEAD_W + (w.c1 - w.c0) * COL_W) + 'px';
      var h = ['<thead><tr aria-rowindex="1"><th class="corner" scope="col" aria-colindex="1">MCP server \u2193 \u00b7 app \u2192</th>'];
      for (var c = w.c0; c < w.c1; c++) {
        var a = cols[c];
        h.push('<th scope="col" aria-colindex="' + (c + 2) + '" data-r="-1" data-c="' + c + '" tabindex="' + tab(-1, c) + '" title="' +
          esc(name(a) + ' (' + APPS[a][1] + ')') + '"><span>' + esc(name(a)) + '</span></th>');
      }
      h.push('</tr></thead><tbody>');
      for (var r = w.r0; r < w.r1; r++) {
        var s = rows[r];
        h.push('<tr aria-rowindex="' + (r + 2) + '"><th scope="row" aria-colindex="1" data-r="' + r + '" data-c="-1" tabindex="' + tab(r, -1) +
          '" title="' + esc(name(s) + ' (' + APPS[s][1] + ')') + '">' + esc(name(s)) + '</th>');
        for (c = w.c0; c < w.c1; c++) {
          var k = pairAt.get(s * NA + cols[c]);
          var at = ' aria-colindex="' + (c + 2) + '" data-r="' + r + '" data-c="' + c + '" tabindex="' + tab(r, c) + '"';
          if (k === undefined) {
            h.push('<td class="a-none"' + at + '><span class="sr">' + esc(LABEL[3]) + '</span></td>');
          } else if (!inShown[k]) {
            h.push('<td class="filtered"' + at + ' title="hidden by the filter"><span class="sr">hidden by the filter</span></td>');
          } else {
            var p = PAIRS[k];
            var cls = CLS[p[2]] + (p[3] & F_UNDECLARED ? ' undeclared' : '') + (p[3] & F_MISSING ? ' missing' : '') + (k === selected ? ' selected' : '');
            h.push('<td class="' + cls + '"' + at + ' data-k="' + k + '" aria-selected="' + (k === selected) + '" title="' + esc(cellLabel(k)) +
              '"><span aria-hidden="true">' + GLYPH[p[2]] + '</span><span class="sr">' + esc(LABEL[p[2]] + ', ' + declaredText(p)) + '</span></td>');
          }
        }
        h.push('</tr>');
      }
      h.push('</tbody>');
      table.innerHTML = h.join('');
      if (hadFocus) focusActive();
    }
    function tab(r, c) { return r === active.r && c === active.c ? 0 : -1; }
    function inWindow(r, c) {
      return win && (r < 0 || (r >= win.r0 && r < win.r1)) && (c < 0 || (c >= win.c0 && c < win.c1));
    }
    function cell(r, c) { return table.querySelector('[data-r="' + r + '"][data-c="' + c + '"]'); }
    function focusActive() { var el = cell(active.r, active.c); if (el) el.focus({ preventScroll: true }); }
    // Scrolls so that (r, c) is in view below and right of the sticky headers.
    function scrollTo(r, c) {
      var h = scroller.clientHeight, w = scroller.clientWidth;
      if (r >= 0) {
        var top = r * ROW_H, bottom = top + ROW_H + HEAD_H - h;
        if (scroller.scrollTop > top) scroller.scrollTop = top;
        else if (scroller.scrollTop < bottom) scroller.scrollTop = bottom;
      }
      if (c >= 0) {
        var left = c * COL_W, right = left + COL_W + HEAD_W - w;
        if (scroller.scrollLeft > left) scroller.scrollLeft = left;
        else if (scroller.scrollLeft < right) scroller.scrollLeft = right;
      }
    }
    function moveTo(r, c) {
      r = Math.max(-1, Math.min(rows.length - 1, r));
      c = Math.max(-1, Math.min(cols.length - 1, c));
      active = { r: r, c: c };
      scrollTo(r, c);
      var el = table.querySelector('[tabindex="0"]');
      if (el) el.tabIndex = -1;
      if (!inWindow(r, c)) draw(true);
      el = cell(r, c);
      if (el) { el.tabIndex = 0; el.focus({ preventScroll: true }); }
    }
    function activate(r, c) {
      if (r < 0 && c >= 0) { fApp.value = APPS[cols[c]][1]; refresh(); return; }
      if (c < 0 && r >= 0) { fServer.value = APPS[rows[r]][1]; refresh(); return; }
      var k = pairAt.get(rows[r] * NA + cols[c]);
      if (k !== undefined && inShown[k]) select(k);
    }
    table.addEventListener('keydown', function (e) {
      var t = e.target.closest('[data-r]');
      if (!t) return;
      var r = +t.dataset.r, c = +t.dataset.c, page = Math.max(1, Math.floor((scroller.clientHeight - HEAD_H) / ROW_H) - 1);
      switch (e.key) {
        case 'ArrowRight': moveTo(r, c + 1); break;
        case 'ArrowLeft': moveTo(r, c - 1); break;
        case 'ArrowDown': moveTo(r + 1, c); break;
        case 'ArrowUp': moveTo(r - 1, c); break;
        case 'PageDown': moveTo(r + page, c); break;
        case 'PageUp': moveTo(Math.max(0, r - page), c); break;
        case 'Home': moveTo(e.ctrlKey ? 0 : r, e.ctrlKey ? 0 : -1); break;
        case 'End': moveTo(e.ctrlKey ? rows.length - 1 : r, cols.length - 1); break;
        case 'Enter': case ' ': activate(r, c); break;
        default: return;
      }
      e.preventDefault();
    });
    table.addEventListener('click', function (e) {
      var t = e.target.closest('[data-r]');
      if (!t) return;
      var r = +t.dataset.r, c = +t.dataset.c;
      var old = table.querySelector('[tabindex="0"]');
      if (old) old.tabIndex = -1;
      active = { r: r, c: c };
      t.tabIndex = 0;
      t.focus({ preventScroll: true });
      activate(r, c);
    });
    var pending = false;
    scroller.addEventListener('scroll', function () {
      if (pending) return;
      pending = true;
      requestAnimationFrame(function () { pending = false; draw(false); });
    }, { passive: true });
    function markSelected() {
      var old = table.querySelector('td.selected');
      if (old) { old.classList.remove('selected'); old.setAttribute('aria-selected', 'false'); }
      var el = table.querySelector('td[data-k="' + selected + '"]');
      if (el) { el.classList.add('selected'); el.setAttribute('aria-selected', 'true'); }
    }
    function reveal(k) {
      var p = PAIRS[k];
      if (rowOf[p[0]] < 0 || colOf[p[1]] < 0) return;
      active = { r: rowOf[p[0]], c: colOf[p[1]] };
      scrollTo(active.r, active.c);
      draw(true);
    }
    return { reset: reset, draw: draw, markSelected: markSelected, reveal: reveal };
  })();

  // ---- List -----------------------------------------------------------------------
  // A plain table of the filtered pairs with their policies and rules, a page at a time.
  var list = (function () {
    var PAGE = 200, body = root.querySelector('#list tbody'), more = $('list-more'), done = 0;
    function reset() { done = 0; body.innerHTML = ''; }
    function rowHtml(k) {
      var p = PAIRS[k];
      var flag = p[3] & F_UNDECLARED ? ' <span class="flag">undeclared</span>' : p[3] & F_MISSING ? ' <span class="flag missing">missing</span>' : '';
      return '<tr data-k="' + k + '"' + (k === selected ? ' class="selected"' : '') + '><th scope="row"><button type="button" class="link" data-k="' + k + '">' +
        esc(name(p[0])) + '</button></th><td>' + esc(name(p[1])) + '</td><td><span class="chip ' + CLS[p[2]] + '">' + GLYPH[p[2]] + '</span> ' +
        esc(LABEL[p[2]]) + '</td><td>' + (p[3] & F_DECLARED ? 'yes' : 'no') + flag + '</td><td>' +
        (p[4].length ? '<ul>' + p[4].map(function (g) { return '<li>' + grantHtml(g, true) + '</li>'; }).join('') + '</ul>' : 'no policy names the server') +
        '</td></tr>';
    }
    function draw() {
      if (view !== 'list') return;
      if (done === 0 && !shown.length) { body.innerHTML = '<tr><td colspan="5">No pair matches the filter.</td></tr>'; }
      var until = Math.min(shown.length, Math.max(done, PAGE));
      var h = [];
      for (var i = done; i < until; i++) h.push(rowHtml(shown[i]));
      if (h.length) body.insertAdjacentHTML('beforeend', h.join(''));
      done = until;
      var left = shown.length - done;
      more.hidden = left === 0;
      more.textContent = 'Show ' + Math.min(PAGE, left) + ' more (' + left + ' not shown)';
    }
    more.addEventListener('click', function () {
      var until = Math.min(shown.length, done + PAGE), h = [];
      for (var i = done; i < until; i++) h.push(rowHtml(shown[i]));
      body.insertAdjacentHTML('beforeend', h.join(''));
      done = until;
      var left = shown.length - done;
      more.hidden = left === 0;
      more.textContent = 'Show ' + Math.min(PAGE, left) + ' more (' + left + ' not shown)';
    });
    body.addEventListener('click', function (e) {
      var b = e.target.closest('button[data-k]');
      if (b) select(+b.dataset.k);
    });
    function markSelected() {
      var old = body.querySelector('tr.selected');
      if (old) old.classList.remove('selected');
      var el = body.querySelector('tr[data-k="' + selected + '"]');
      if (el) el.classList.add('selected');
    }
    return { reset: reset, draw: draw, markSelected: markSelected };
  })();

  // ---- Graph ----------------------------------------------------------------------
  // Servers on the left, apps on the right, each server's apps next to it; the svg
  // stays on screen and draws the nodes and arrows of the scrolled-to window.
  var graph = (function () {
    var SVGNS = 'http://www.w3.org/2000/svg';
    var scroller = $('graph-scroll'), sizer = $('graph-sizer'), svg = $('graph'), content = $('graph-content');
    var SLOT = 26, GAP = 16, NODE_W = 230, NODE_H = 20, MAX_EDGES = 4000;
    var left = [], right = [], edges = [], height = 0, laidOut = false;
    function reset() { laidOut = false; scroller.scrollTop = 0; }
    function layout() {
      left = []; right = []; edges = [];
      var placed = new Int32Array(NA).fill(-1), y = GAP, byRow = new Map();
      shown.forEach(function (k) {
        var s = PAIRS[k][0];
        if (!byRow.has(s)) byRow.set(s, []);
        byRow.get(s).push(k);
      });
      rows.forEach(function (s) {
        var start = y, own = 0;
        byRow.get(s).forEach(function (k) {
          var a = PAIRS[k][1];
          if (placed[a] < 0) { placed[a] = right.length; right.push({ i: a, y: y }); y += SLOT; own++; }
        });
        if (!own) y += SLOT;
        var sy = (start + y - SLOT) / 2;
        left.push({ i: s, y: sy });
        byRow.get(s).forEach(function (k) { edges.push({ k: k, y1: sy, y2: right[placed[PAIRS[k][1]]].y }); });
        y += GAP;
      });
      height = y + GAP;
      laidOut = true;
      svg.setAttribute('aria-label', 'Access graph of ' + left.length + ' MCP servers, ' + right.length + ' apps and ' + edges.length + ' links; the list view has the same data as a table');
    }
    function el(tag, attrs, text) {
      var e = document.createElementNS(SVGNS, tag);
      for (var a in attrs) e.setAttribute(a, attrs[a]);
      if (text !== undefined) e.textContent = text;
      return e;
    }
    function clip(s, n) { return s.length > n ? s.slice(0, n - 1) + '\u2026' : s; }
    function draw() {
      if (view !== 'graph') return;
      if (!laidOut) layout();
      sizer.style.height = height + 'px';
      scroller.style.height = Math.min(height + 2, 720, Math.max(300, window.innerHeight * 0.7)) + 'px';
      var w = Math.max(600, scroller.clientWidth - 2), h = scroller.clientHeight || 600;
      svg.setAttribute('width', w);
      svg.setAttribute('height', h);
      svg.setAttribute('viewBox', '0 0 ' + w + ' ' + h);
      while (content.firstChild) content.removeChild(content.firstChild);
      if (!edges.length) { content.appendChild(el('text', { x: 20, y: 30, class: 'more' }, 'No pair matches the filter.')); return; }
      var top = scroller.scrollTop, bottom = top + h, x1 = 10 + NODE_W, x2 = w - NODE_W - 10;
      content.setAttribute('transform', 'translate(0,' + (-top) + ')');
      var drawn = 0, skipped = 0, frag = document.createDocumentFragment();
      edges.forEach(function (e) {
        if (Math.min(e.y1, e.y2) > bottom || Math.max(e.y1, e.y2) < top) return;
        if (drawn >= MAX_EDGES) { skipped++; return; }
        drawn++;
        var p = PAIRS[e.k], mid = (x1 + x2) / 2, pass = p[2] <= 1;
        var d = 'M' + x1 + ' ' + e.y1 + 'C' + mid + ' ' + e.y1 + ' ' + mid + ' ' + e.y2 + ' ' + (x2 - 2) + ' ' + e.y2;
        var cls = 'edge ' + CLS[p[2]] + (p[3] & F_MANAGED ? '' : ' dashed') + (p[3] & F_UNDECLARED ? ' undeclared' : '') + (e.k === selected ? ' selected' : '');
        var g = el('g', { 'data-k': e.k });
        g.appendChild(el('title', {}, name(p[0]) + ' \u2192 ' + name(p[1]) + ': ' + LABEL[p[2]] + ', ' + declaredText(p)));
        g.appendChild(el('path', { d: d, class: cls, 'marker-end': pass ? 'url(#head-ok)' : 'url(#head-x)' }));
        g.appendChild(el('path', { d: d, class: 'hit' }));
        var words = [];
        if (p[2] === 1) words.push('depends on the request');
        if (p[2] === 2) words.push('blocked');
        if (p[3] & F_UNDECLARED) words.push('undeclared');
        if (p[3] & F_MISSING) words.push('missing');
        // At three quarters of the curve, where arrows into neighbouring apps part.
        if (words.length) {
          g.appendChild(el('text', {
            x: 0.015625 * x1 + 0.5625 * mid + 0.421875 * x2, y: 0.15625 * e.y1 + 0.84375 * e.y2 - 4,
            'text-anchor': 'middle', class: 'edge-label'
          }, words.join(', ')));
        }
        frag.appendChild(g);
      });
      function node(n, x, cls) {
        if (n.y < top - SLOT || n.y > bottom + SLOT) return;
        var g = el('g', { class: 'node ' + cls, 'data-i': n.i, transform: 'translate(' + x + ',' + (n.y - NODE_H / 2) + ')' });
        g.appendChild(el('title', {}, name(n.i) + ' (' + APPS[n.i][1] + ')' + (cls === 'server' ? ': filter to this MCP server' : ': filter to this app')));
        g.appendChild(el('rect', { width: NODE_W, height: NODE_H, rx: 4 }));
        g.appendChild(el('text', { x: 6, y: 14 }, clip(name(n.i), 34)));
        frag.appendChild(g);
      }
      left.forEach(function (n) { node(n, 10, 'server'); });
      right.forEach(function (n) { node(n, x2, 'app'); });
      if (skipped) frag.appendChild(el('text', { x: x1 + 10, y: top + 16, class: 'more' }, skipped + ' more arrows here: filter to draw them'));
      content.appendChild(frag);
    }
    content.addEventListener('click', function (e) {
      var g = e.target.closest('[data-k]');
      if (g) { select(+g.getAttribute('data-k')); return; }
      var n = e.target.closest('[data-i]');
      if (!n) return;
      var i = +n.getAttribute('data-i');
      if (n.classList.contains('server')) fServer.value = APPS[i][1]; else fApp.value = APPS[i][1];
      refresh();
    });
    var pending = false;
    scroller.addEventListener('scroll', function () {
      if (pending) return;
      pending = true;
      requestAnimationFrame(function () { pending = false; draw(); });
    }, { passive: true });
    function markSelected() { if (view === 'graph') draw(); }
    return { reset: reset, draw: draw, markSelected: markSelected };
  })();

  // ---- Wiring ---------------------------------------------------------------------
  var datalists = false;
  function fillDatalists() {
    if (datalists) return;
    datalists = true;
    var servers = new Uint8Array(NA), apps = new Uint8Array(NA);
    PAIRS.forEach(function (p) { servers[p[0]] = 1; apps[p[1]] = 1; });
    var fill = function (id, mark) {
      var h = [];
      for (var i = 0; i < NA; i++) if (mark[i]) h.push('<option value="' + esc(name(i)) + '"></option>');
      $(id).innerHTML = h.join('');
    };
    fill('dl-servers', servers);
    fill('dl-apps', apps);
  }
  fServer.addEventListener('focus', fillDatalists);
  fApp.addEventListener('focus', fillDatalists);
  var typing = 0;
  form.addEventListener('input', function () {
    clearTimeout(typing);
    typing = setTimeout(refresh, 150);
  });
  form.addEventListener('submit', function (e) { e.preventDefault(); clearTimeout(typing); refresh(); });
  form.addEventListener('reset', function () { setTimeout(function () { selected = -1; refresh(); }, 0); });
  window.addEventListener('hashchange', function () { readFragment(); refresh(); if (selected >= 0) select(selected, 'link'); });
  window.addEventListener('resize', function () { matrix.draw(true); graph.draw(); });

  form.hidden = false;
  root.querySelector('[role=tablist]').hidden = false;
  readFragment();
  refresh();
  if (selected >= 0) select(selected, 'link');
  if (window.performance && performance.mark) performance.mark('mcp-access:drawn');
})();
