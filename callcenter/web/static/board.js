// The supervisors' board, live over /ws/live ("board" messages). Caller-supplied text is written
// with textContent only.
"use strict";

(() => {
  const boot = JSON.parse(document.getElementById("boot").textContent);
  const $ = (id) => document.getElementById(id);
  const STATES = { ivr: "di IVR", waiting: "menunggu", calltaker: "dengan petugas", agency: "dengan instansi" };
  const DESK_STATES = {
    "logged-out": "di luar antrean", available: "siap", ringing: "berdering", "on-call": "menerima panggilan",
    "wrap-up": "menyelesaikan", paused: "jeda", unreachable: "telepon tidak terdaftar",
  };
  let board = null;
  let received = 0; // when (our clock) the board was computed: waits tick from there

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function row(cells) {
    const tr = el("tr");
    for (const cell of cells) {
      const td = el("td");
      if (cell instanceof Node) td.append(cell);
      else td.textContent = cell === null || cell === undefined ? "" : String(cell);
      tr.append(td);
    }
    return tr;
  }

  function notice(text, bad) {
    $("notice").textContent = text;
    $("notice").className = bad ? "notice bad" : "notice";
    $("notice").hidden = !text;
  }

  const elapsed = () => Math.round((Date.now() - received) / 1000);
  const duration = (s) => (s >= 60 ? Math.floor(s / 60) + " m " + (s % 60) + " s" : s + " s");
  const pct = (v) => (v === null || v === undefined ? "–" : v.toFixed(1) + " %");

  async function listen(uniqueId, mode) {
    const response = await fetch(`/api/calls/${encodeURIComponent(uniqueId)}/listen`, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify({ mode }),
    });
    const data = await response.json().catch(() => ({}));
    notice(response.ok ? "Telepon Anda berdering: " + mode : "Gagal: " + (data.error || response.status), !response.ok);
  }

  function listenButtons(call) {
    const box = el("span", undefined, "group");
    for (const [mode, label] of [["listen", "Dengar"], ["whisper", "Bisik"], ["barge", "Sela"]]) {
      const button = el("button", label);
      button.type = "button";
      button.dataset.mode = mode;
      button.disabled = !boot.phone || call.state === "ivr" || !call.calltaker;
      button.addEventListener("click", () => listen(call.unique_id, mode));
      box.append(button);
    }
    return box;
  }

  function render() {
    if (!board) return;
    const live = board.live;
    const tick = elapsed();
    $("kpi-waiting").textContent = live.waiting;
    $("kpi-longest").textContent = duration(live.waiting ? live.longest_wait + tick : 0);
    $("kpi-ivr").textContent = live.ivr;
    $("kpi-calltaker").textContent = live.calltaker;
    $("kpi-agency").textContent = live.agency;
    for (const s of ["10", "15", "20"]) $("kpi-within-" + s).textContent = pct(board.today.answered_within_pct[s]);
    $("kpi-abandoned").textContent = board.today.abandoned;
    $("kpi-tickets").textContent = board.today.tickets;
    $("live").tBodies[0].replaceChildren(
      ...live.calls.map((c) => {
        const tr = row(["#" + c.ticket_id, c.caller_number || "(tanpa nomor)", boot.categories[c.category] || c.category || "–",
          STATES[c.state] + (c.held ? " (ditahan)" : ""), duration(c.seconds + tick), c.calltaker || "", listenButtons(c)]);
        tr.dataset.state = c.state;
        tr.dataset.ticket = c.ticket_id;
        return tr;
      }),
    );
    $("desks").tBodies[0].replaceChildren(
      ...board.desks.map((d) => {
        const since = Math.max(0, Math.round((Date.now() - Date.parse(d.since)) / 1000));
        const tr = row([d.name, d.extension, DESK_STATES[d.state] || d.state, duration(since), d.reason, d.calls_taken]);
        tr.dataset.state = d.state;
        tr.dataset.extension = d.extension;
        return tr;
      }),
    );
    for (const [id, counts, names] of [["by-category", board.today.by_category, boot.categories],
      ["by-agency", board.today.by_agency, boot.agencies]]) {
      $(id).replaceChildren(...Object.entries(counts).map(([k, n]) => el("li", (names[k] || k) + ": " + n)));
    }
  }

  async function post(path, body) {
    const response = await fetch(path, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.error || String(response.status));
    return data;
  }

  function button(label, action) {
    const b = el("button", label);
    b.type = "button";
    b.addEventListener("click", () => action().catch((e) => notice("Gagal: " + e.message, true)));
    return b;
  }

  const CALLBACK_ENDS = {
    "callback-no-answer": "tidak diangkat", "callback-busy": "sibuk", "callback-failed": "gagal",
    "callback-answered": "tersambung",
  };
  const SHOWN_TIMES = 6; // a number that rang dozens of times stays one readable line

  function when(iso) {
    const at = new Date(iso);
    const time = at.toLocaleTimeString("id-ID", { hour: "2-digit", minute: "2-digit" });
    return at.toDateString() === new Date().toDateString()
      ? time : at.toLocaleDateString("id-ID", { day: "numeric", month: "short" }) + " " + time;
  }

  function rang(c) {
    const times = c.calls.slice(0, SHOWN_TIMES).map((call) => when(call.arrived_at)).join(", ");
    return `${c.count}× · ${times}${c.count > SHOWN_TIMES ? ", …" : ""}`;
  }

  function attempts(c) {
    if (!c.attempts) return "0";
    const last = c.last_callback;
    return last ? `${c.attempts} (terakhir: ${CALLBACK_ENDS[last.kind] || last.kind}, ${when(last.at)})` : String(c.attempts);
  }

  function renderCallbacks(callbacks) {
    $("callbacks").tBodies[0].replaceChildren(
      ...callbacks.map((c) => {
        const t = c.ticket; // the newest call: a callback is recorded on it
        const record = `${c.record.tickets} panggilan, ${c.record.prank} prank, ${c.record.silent} diam`;
        const actions = el("span", undefined, "group");
        if (c.callable) {
          actions.append(button("Telepon balik", async () => {
            await post(`/api/tickets/${t.id}/callback`, { extension: $("callback-desk").value });
            notice(`Telepon balik ${c.number} (tiket #${t.id}): meja ${$("callback-desk").value} berdering`);
            refreshLists();
          }));
        }
        if (c.review && c.callable) {
          actions.append(button("Batasi nomor", async () => {
            const reason = window.prompt("Alasan pembatasan (tercatat):", `${c.record.prank} panggilan prank`);
            if (!reason) return;
            await post("/api/restrictions", { number: c.number, reason });
            refreshLists();
          }));
        }
        const tr = row([c.number || "(tanpa nomor)", rang(c), "#" + t.id,
          boot.categories[t.category] || t.category || "–", attempts(c), record, actions]);
        if (c.review) tr.className = "review";
        tr.dataset.ticket = t.id;
        tr.dataset.number = c.number;
        tr.dataset.count = c.count;
        return tr;
      }),
    );
  }

  function renderRestrictions(restrictions) {
    $("restrictions").tBodies[0].replaceChildren(
      ...restrictions.map((r) => {
        const lift = r.active
          ? button("Cabut", async () => {
            const reason = window.prompt("Alasan mencabut (tercatat):");
            if (!reason) return;
            await post(`/api/restrictions/${r.id}/lift`, { reason });
            refreshLists();
          })
          : "";
        const state = r.active ? "berlaku" : r.lifted_at ? `dicabut oleh ${r.lifted_by}` : "berakhir";
        const tr = row([r.number, r.level, r.until ? new Date(r.until).toLocaleString("id-ID") : "sampai dicabut",
          r.created_by, r.reason, r.evidence.map((t) => "#" + t).join(" "), state, lift]);
        tr.dataset.active = r.active ? "yes" : "no";
        return tr;
      }),
    );
  }

  let listsAt = 0;
  // ---- the agencies' open assignments (the agency loop) and their missed deadlines -----------

  const AGENCY_STATUSES = {
    assigned: "ditugaskan", acknowledged: "diterima", "en-route": "berangkat", "on-scene": "tiba di lokasi",
    cleared: "selesai", declined: "ditolak",
  };
  const DEADLINES = { acknowledge: "menerima", "on-scene": "tiba di lokasi", cleared: "selesai" };
  const CLOSED = new Set(["cleared", "declined"]);
  const assignments = new Map(); // id → assignment
  const raised = new Map(); // assignment id → the deadline raised on the board
  let alarmAudio = null;

  // Two low tones, distinct from the outage banner's (a browser sounds only after a first click).
  function alarm() {
    const box = $("agency-loop");
    box.dataset.alarms = String(Number(box.dataset.alarms || 0) + 1);
    try {
      alarmAudio = alarmAudio || new AudioContext();
      if (alarmAudio.state === "suspended") alarmAudio.resume().catch(() => {});
      const now = alarmAudio.currentTime;
      for (const [start, frequency] of [[0, 520], [0.35, 520]]) {
        const tone = alarmAudio.createOscillator();
        const volume = alarmAudio.createGain();
        tone.frequency.value = frequency;
        volume.gain.setValueAtTime(0.3, now + start);
        volume.gain.exponentialRampToValueAtTime(0.001, now + start + 0.3);
        tone.connect(volume).connect(alarmAudio.destination);
        tone.start(now + start);
        tone.stop(now + start + 0.3);
      }
    } catch (error) {
      // No sound device: the highlighted row has to do.
    }
  }

  function renderAssignments() {
    const open = [...assignments.values()].filter((a) => !CLOSED.has(a.status));
    open.sort((a, b) => (a.agency < b.agency ? -1 : a.agency > b.agency ? 1 : a.id - b.id));
    $("assignments").tBodies[0].replaceChildren(
      ...open.map((a) => {
        const overdue = a.deadline_at && Date.parse(a.deadline_at) <= Date.now();
        const deadline = a.deadline ? (DEADLINES[a.deadline] || a.deadline) + " sebelum " + when(a.deadline_at) : "–";
        const tr = row([boot.agencies[a.agency] || a.agency, "#" + a.ticket_id, AGENCY_STATUSES[a.status] || a.status,
          when(a.moved_at) + " · " + a.moved_by, deadline,
          raised.has(a.id) ? "TERLAMBAT " + (DEADLINES[raised.get(a.id)] || "") : overdue ? "terlambat" : ""]);
        tr.dataset.assignment = String(a.id);
        tr.dataset.agency = a.agency;
        tr.dataset.status = a.status;
        tr.dataset.overdue = raised.has(a.id) ? "raised" : overdue ? "yes" : "no";
        return tr;
      }),
    );
  }

  async function loadAssignments() {
    const lists = await Promise.all(Object.keys(boot.agencies).map((id) =>
      fetch(`/api/agency/assignments?agency=${encodeURIComponent(id)}`, { credentials: "same-origin" })
        .then((r) => (r.ok ? r.json() : { assignments: [] }))));
    assignments.clear();
    for (const list of lists) {
      for (const item of list.assignments) {
        assignments.set(item.assignment.id, item.assignment);
        if (item.assignment.escalation_step >= 2) raised.set(item.assignment.id, item.assignment.escalated_deadline);
      }
    }
    renderAssignments();
  }

  // Declines the centre has still to give to another agency (routing/agency_loop.py decides which;
  // GET /api/agency/declined lists them): assignment id → {assignment, agency_name, ticket}.
  const declined = new Map();

  const declinedText = (d) => `Ditolak oleh ${d.agency_name}: ${d.assignment.decline_reason || "(tanpa alasan)"}` +
    ` — tiket #${d.assignment.ticket_id} perlu instansi lain`;

  // The agency a supervisor picked on each row, kept while the list is drawn again.
  const chosen = new Map(); // assignment id → agency id
  let agencyList = []; // GET /api/agencies: in the configuration's order

  async function loadAgencies() {
    const response = await fetch("/api/agencies", { credentials: "same-origin" });
    if (!response.ok) return;
    agencyList = (await response.json()).agencies;
    renderDeclined();
  }

  // Any agency, the one that declined too (it may be asked again). The row leaves the list when
  // the new assignment comes on the feed (assignmentChanged reloads the list).
  function reassignControls(d) {
    const box = el("span", undefined, "group");
    const select = el("select");
    select.setAttribute("aria-label", `Instansi untuk tiket #${d.assignment.ticket_id}`);
    select.append(new Option("(pilih instansi)", ""));
    for (const agency of agencyList) select.append(new Option(agency.name, agency.id));
    select.value = chosen.get(d.assignment.id) || "";
    select.addEventListener("change", () => chosen.set(d.assignment.id, select.value));
    box.append(select, button("Tugaskan", () => reassign(d, select.value)));
    return box;
  }

  async function reassign(d, agency) {
    const ticketId = d.assignment.ticket_id;
    if (!agency) {
      notice(`Pilih instansi untuk tiket #${ticketId}`, true);
      return;
    }
    const { assignment } = await post(`/api/tickets/${ticketId}/assignments`, { agency });
    const name = boot.agencies[assignment.agency] || assignment.agency;
    // An agency that already held the ticket before the decline is given nothing new: the
    // declined part of the work still has nobody (routing/agency_loop.py).
    if (Date.parse(assignment.assigned_at) < Date.parse(d.assignment.declined_at)) {
      notice(`${name} sudah ditugaskan sebelum penolakan: tiket #${ticketId} tetap perlu instansi lain`, true);
    } else {
      notice(`Tiket #${ticketId} ditugaskan ke ${name}`);
    }
  }

  function renderDeclined() {
    const items = [...declined.values()];
    for (const id of chosen.keys()) if (!declined.has(id)) chosen.delete(id);
    $("reassign").replaceChildren(...items.map((d) => {
      const item = el("li", undefined, "alert");
      item.append(el("span", declinedText(d), "what"), " ", reassignControls(d));
      item.dataset.ticket = String(d.assignment.ticket_id);
      item.dataset.assignment = String(d.assignment.id);
      return item;
    }));
    $("reassign-none").hidden = items.length > 0;
  }

  async function loadDeclined() {
    const response = await fetch("/api/agency/declined", { credentials: "same-origin" });
    if (!response.ok) return;
    const list = await response.json();
    declined.clear();
    for (const d of list.declined) declined.set(d.assignment.id, d);
    renderDeclined();
  }

  const declinedTicket = (ticketId) => [...declined.values()].some((d) => d.assignment.ticket_id === ticketId);

  function assignmentChanged(message) {
    const a = message.assignment;
    assignments.set(a.id, a);
    if (CLOSED.has(a.status)) raised.delete(a.id);
    renderAssignments();
    if (message.back_to_centre) {
      const d = { assignment: a, agency_name: boot.agencies[a.agency] || a.agency };
      declined.set(a.id, d);
      renderDeclined();
      alarm();
      notice(declinedText(d), true);
    } else if (message.previous === null && declinedTicket(a.ticket_id)) {
      loadDeclined().catch(() => {}); // assigned again: the server says which declines that answers
    }
  }

  function ticketChanged(message) {
    if (message.ticket.closed_at && declinedTicket(message.ticket.id)) loadDeclined().catch(() => {});
  }

  function agencyOverdue(message) {
    raised.set(message.assignment_id, message.deadline);
    renderAssignments();
    alarm();
    notice(`${boot.agencies[message.agency] || message.agency} terlambat ${DEADLINES[message.deadline] || message.deadline} untuk tiket #${message.ticket_id}`, true);
  }

  async function refreshLists() {
    listsAt = Date.now();
    const [callbacks, restrictions] = await Promise.all([
      fetch("/api/callbacks", { credentials: "same-origin" }).then((r) => r.json()),
      fetch("/api/restrictions", { credentials: "same-origin" }).then((r) => r.json()),
    ]);
    renderCallbacks(callbacks.callbacks || []);
    renderRestrictions(restrictions.restrictions || []);
  }

  function show(next) {
    board = next;
    received = Date.parse(next.at) || Date.now();
    render();
    if (Date.now() - listsAt > 3000) refreshLists().catch(() => {});
  }

  function connect() {
    const socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/live`);
    socket.addEventListener("open", async () => {
      $("link").textContent = "tersambung";
      $("link").dataset.up = "yes";
      loadAssignments().catch(() => {});
      loadDeclined().catch(() => {});
      loadAgencies().catch(() => {});
      const response = await fetch("/api/board", { credentials: "same-origin" });
      if (response.status === 401) location.assign("/login");
      else if (response.ok) show(await response.json());
    });
    socket.addEventListener("message", (raw) => {
      const message = JSON.parse(raw.data);
      if (message.type === "board") show(message.board);
      else if (message.type === "outage") window.ngalamOutage.show(message.down);
      else if (message.type === "assignment") assignmentChanged(message);
      else if (message.type === "ticket") ticketChanged(message);
      else if (message.type === "agency-overdue") agencyOverdue(message); // web/live.py's type
    });
    socket.addEventListener("close", (event) => {
      if (event.code === 4401) return location.assign("/login"); // the session has ended
      $("link").textContent = "terputus";
      $("link").dataset.up = "no";
      setTimeout(connect, 1000);
    });
  }

  setInterval(render, 1000); // waits and times in state grow between updates
  setInterval(renderAssignments, 15000); // a deadline passes by itself
  connect();
})();
