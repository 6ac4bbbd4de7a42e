// The call-taker's console: the desk (queue login, pause), the waiting callers, and the ticket of
// the call at this desk, live over /ws/live. Caller-supplied text (names, numbers, transcripts,
// notes) is only ever written with textContent: it is shown, never interpreted.
"use strict";

(() => {
  const boot = JSON.parse(document.getElementById("boot").textContent);
  const $ = (id) => document.getElementById(id);

  const DESK_STATES = {
    "logged-out": "di luar antrean",
    available: "siap",
    ringing: "berdering",
    "on-call": "menerima panggilan",
    "wrap-up": "menyelesaikan",
    paused: "jeda",
    unreachable: "telepon tidak terdaftar",
  };
  const STATUSES = {
    new: "di IVR",
    queued: "menunggu",
    answered: "dijawab",
    abandoned: "ditinggalkan",
    ended: "selesai",
    dispatched: "diteruskan ke instansi",
    resolved: "tuntas",
  };
  const FORM_FIELDS = ["category", "what", "kecamatan", "kelurahan", "address", "landmark", "where", "who"];
  const categoryNames = Object.fromEntries(boot.categories.map((c) => [c.id, c.name]));
  const agencyNames = Object.fromEntries(boot.agencies.map((a) => [a.id, a.name]));
  // The agency loop's statuses (routing/agency_loop.py), as the centre says them.
  const AGENCY_STATUSES = {
    assigned: "ditugaskan",
    acknowledged: "diterima",
    "en-route": "berangkat",
    "on-scene": "tiba di lokasi",
    cleared: "selesai",
    declined: "ditolak",
  };
  const DEADLINES = { acknowledge: "menerima", "on-scene": "tiba di lokasi", cleared: "selesai" };

  let places = {};
  let current = null; // {ticket, uniqueId, saved: {field: value}}
  const waiting = new Map();
  const recent = new Map();

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function clock(iso) {
    return iso ? new Date(iso).toLocaleTimeString("id-ID", { hour12: false }) : "";
  }

  async function api(method, path, body) {
    const response = await fetch(path, {
      method,
      credentials: "same-origin",
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    try {
      data = await response.json();
    } catch (_) {
      data = null;
    }
    if (response.status === 401) {
      location.assign("/login");
      throw new Error("sesi berakhir");
    }
    if (!response.ok) throw new Error((data && data.error) || response.statusText);
    return data;
  }

  function notice(text, bad) {
    const box = $("notice");
    box.textContent = text;
    box.className = bad ? "notice bad" : "notice";
    box.hidden = !text;
  }

  function attempt(promise) {
    return promise.catch((error) => notice(error.message, true));
  }

  // ---- the desk ------------------------------------------------------------------------------

  // How many desk states have been shown. An API answer (a reload, a click's reply) shows its
  // desk only if none came while it was on its way: the feed's is newer. Both were seen in CI:
  // a "join" undone by the reload's older "logged-out", and by its own reply arriving after the
  // feed's "available"; the desk looked out of the queue while it was in it.
  let desksShown = 0;

  function showDesk(desk) {
    if (!desk || desk.extension !== boot.extension) return;
    desksShown += 1;
    const state = $("desk-state");
    state.dataset.state = desk.state;
    state.textContent = DESK_STATES[desk.state] || desk.state;
    if (desk.paused && desk.reason) state.textContent += " (" + desk.reason + ")";
    $("desk-since").textContent = "sejak " + clock(desk.since);
    $("btn-join").disabled = desk.in_queue;
    $("btn-leave").disabled = !desk.in_queue;
    $("btn-pause").disabled = desk.paused;
    $("btn-unpause").disabled = !desk.paused;
  }

  function want(state) {
    const body = { state, reason: state === "paused" ? $("pause-reason").value : "" };
    const shownBefore = desksShown;
    // The answer may still show the old state (the desk follows Asterisk's events); if the feed
    // has shown the desk since we asked, that is as new or newer.
    attempt(
      api("POST", `/api/agents/${boot.extension}/state`, body).then((r) => {
        if (desksShown === shownBefore) showDesk(r.desk);
      }),
    );
  }

  // ---- the queue and recent tickets ------------------------------------------------------------

  // Tickets the feed brought while a reload was loading: the reload's list may predate them.
  const fedDuringReloads = new Set();

  function keepWaiting(ticket) {
    if (ticket.status === "queued") waiting.set(ticket.id, ticket);
    else waiting.delete(ticket.id);
  }

  function track(ticket) {
    for (const fed of fedDuringReloads) fed.set(ticket.id, ticket);
    keepWaiting(ticket);
    recent.delete(ticket.id);
    recent.set(ticket.id, ticket);
    while (recent.size > 15) recent.delete(recent.keys().next().value);
    showQueue();
  }

  function ticketLine(ticket) {
    const line = el("li");
    line.append(el("span", "#" + ticket.id, "id"), " ");
    line.append(el("span", ticket.caller_number || "(tanpa nomor)", "number"), " ");
    line.append(el("span", categoryNames[ticket.category] || "kategori belum diketahui", "category"), " ");
    line.append(el("span", STATUSES[ticket.status] || ticket.status, "status"));
    if (ticket.flags.length) line.append(" ", el("span", ticket.flags.join(", "), "flags"));
    return line;
  }

  // The order the queue answers callers in is the server's (calltakers/waiting.py): each waiting
  // ticket comes with its place as a string key, compared here by code point.
  const byWaitingKey = (a, b) => (a.waiting_key < b.waiting_key ? -1 : a.waiting_key > b.waiting_key ? 1 : 0);

  function showQueue() {
    const ordered = [...waiting.values()].sort(byWaitingKey);
    $("waiting").replaceChildren(...ordered.map(ticketLine));
    $("waiting-count").textContent = String(ordered.length);
    $("recent").replaceChildren(...[...recent.values()].reverse().map(ticketLine));
  }

  // ---- the ticket of the call at this desk ---------------------------------------------------

  function fillPlaces(kecamatan, kelurahan) {
    const districts = $("f-kecamatan");
    if (districts.options.length === 1) {
      for (const name of Object.keys(places)) districts.append(new Option(name, name));
    }
    districts.value = kecamatan || "";
    const villages = $("f-kelurahan");
    villages.replaceChildren(new Option("(pilih)", ""));
    for (const name of places[kecamatan] || []) villages.append(new Option(name, name));
    villages.value = kelurahan || "";
  }

  function formValues() {
    const values = {};
    for (const name of FORM_FIELDS) values[name] = $("f-" + name).value;
    return values;
  }

  function fillForm(ticket) {
    for (const name of ["what", "address", "landmark", "where", "who"]) $("f-" + name).value = ticket[name] || "";
    $("f-category").value = ticket.category || "";
    fillPlaces(ticket.kecamatan, ticket.kelurahan);
    current.saved = formValues();
  }

  function showLive(ticket) {
    $("ticket-id").textContent = String(ticket.id);
    $("caller-number").textContent = ticket.caller_number || "(tanpa nomor)";
    $("caller-name").textContent = ticket.caller_name || "";
    $("ticket-status").textContent = (STATUSES[ticket.status] || ticket.status) + (ticket.outcome ? " · ditutup: " + ticket.outcome : "");
    $("ivr-category").textContent = categoryNames[ticket.category] || "—";
    $("ticket-flags").textContent = ticket.flags.length ? ticket.flags.join(", ") : "—";
    if (ticket.transcript_partial !== undefined || ticket.transcript !== undefined) {
      $("transcript").textContent = ticket.transcript || ticket.transcript_partial || "(belum ada)";
    }
  }

  const FIELD_NAMES = {
    what: "apa yang terjadi", who: "siapa", where: "keterangan lokasi", address: "alamat",
    landmark: "patokan", kecamatan: "kecamatan", kelurahan: "kelurahan", category: "kategori",
    flags: "tanda", checklist: "kartu protokol",
  };

  function priorityMove(priority) {
    if (!priority || priority.from === priority.to) return "";
    return " · prioritas " + priority.from + " → " + priority.to;
  }

  // The hang-up cause of a caller whose phone went silent for good (live/facts.py MEDIA_LOST).
  const MEDIA_LOST = "media lost: no audio from the phone";

  // A ticket event in a call-taker's words (the raw data stays in the API).
  function describe(event) {
    const d = event.data || {};
    switch (event.kind) {
      case "opened": return "panggilan masuk";
      case "caller-id": return "nomor penelepon " + (d.number || "");
      case "ivr-done": return "IVR selesai: " + (categoryNames[d.category] || "tanpa kategori") + (d.flags && d.flags.length ? " · " + d.flags.join(", ") : "") + (d.hung_up ? " · penelepon menutup" : "");
      // What the caller pressed while waiting, and how it moved them in the queue.
      case "key-pressed": return "menekan " + d.key + ": " + (d.meaning === "silent" ? "tidak dapat berbicara" : d.meaning === "calltaker" ? "minta petugas" : (categoryNames[d.category] || d.category || "")) + priorityMove(d.priority) + (d.stage === "ringing" ? " · saat berdering" : "");
      case "restricted": return "nomor dibatasi (iseng)" + priorityMove(d.priority);
      case "key-unknown": return "menekan " + d.key + " (tidak ada di menu)";
      case "keys-flood": return "terlalu banyak tombol, diabaikan sementara";
      case "keys-unfinished": return "menekan " + d.keys + " lalu berhenti";
      case "queued": return "masuk antrean" + (d.position ? " (posisi " + d.position + ")" : "");
      case "answered": return "dijawab " + (d.calltaker || "");
      case "abandoned": return "penelepon menutup sebelum dijawab";
      case "ended": return "panggilan berakhir" + (d.cause === MEDIA_LOST ? " (suara penelepon hilang: sambungan terputus)" : d.cause ? " (" + d.cause + ")" : "");
      case "edited": return "mengubah " + Object.keys(d).map((k) => FIELD_NAMES[k] || k).join(", ");
      case "closed": return "menutup tiket: " + d.outcome;
      case "note": return "catatan" + (d.role === "agency" ? " instansi" : "") + ": " + d.text;
      case "hold": return "menahan penelepon";
      case "resumed": return "melanjutkan panggilan";
      case "hung-up-by-calltaker": return "menutup telepon";
      case "speech-heard": return "terdengar: " + d.text;
      case "overflow": return "dialihkan langsung ke " + d.agency + " (" + d.reason + ")";
      case "dispatch-requested": return "menghubungkan " + d.agency;
      case "dispatch-ringing": return d.agency + " berdering (" + d.target + ")";
      case "dispatch-answered": return d.agency + " menjawab";
      case "dispatch-ended": return d.agency + " selesai";
      case "dispatch-no-answer": return d.agency + " tidak menjawab (" + d.target + ")";
      case "dispatch-failed": return "tidak ada jawaban dari " + d.agency;
      case "agency-status": return (agencyNames[d.agency] || d.agency) + ": " + (d.from ? (AGENCY_STATUSES[d.from] || d.from) + " → " : "") + (AGENCY_STATUSES[d.to] || d.to) + (d.text ? " (" + d.text + ")" : "");
      case "agency-overdue": return (agencyNames[d.agency] || d.agency) + " terlambat " + (DEADLINES[d.deadline] || d.deadline) + (d.step === "board" ? ": diteruskan ke papan penyelia" : ": diingatkan lagi" + (d.target ? " (" + d.target + ")" : ""));
      default: return event.kind + (Object.keys(d).length ? " " + JSON.stringify(d) : "");
    }
  }

  function showEvent(event) {
    const list = $("events");
    if (list.querySelector(`[data-id="${event.id}"]`)) return;
    const line = el("li");
    line.dataset.id = String(event.id);
    line.dataset.kind = event.kind;
    line.append(el("time", clock(event.at)), " ", el("span", event.actor, "actor"), " ", el("span", describe(event), "what"));
    list.append(line);
    if (event.kind === "agency-status") {
      const d = event.data || {};
      showAssignment({ id: d.assignment, agency: d.agency, status: d.to });
    }
  }

  // Where each agency assigned to the current ticket stands, from its log and the live feed.
  function showAssignment(assignment) {
    if (!current) return;
    current.assignments = current.assignments || new Map();
    current.assignments.set(assignment.id, assignment);
    $("assignments").replaceChildren(
      ...[...current.assignments.values()].map((a) => {
        const item = el("li", (agencyNames[a.agency] || a.agency) + ": " + (AGENCY_STATUSES[a.status] || a.status));
        item.dataset.agency = a.agency;
        item.dataset.status = a.status;
        return item;
      }),
    );
  }

  function assignmentChanged(message) {
    // A ticket answered at this desk was declined (the feed says so to this desk only): whoever
    // took the call finds it another agency, whatever call is on screen now.
    if (message.back_to_centre && message.answered_here) {
      const a = message.assignment;
      const text = `Ditolak oleh ${agencyNames[a.agency] || a.agency}: ${a.decline_reason || "(tanpa alasan)"}` +
        ` — tiket #${a.ticket_id} perlu instansi lain`;
      notice(text, true);
      if (current && message.ticket_id === current.ticket.id) {
        $("alert").textContent = text;
        $("alert").hidden = false;
      }
    }
    if (!current || message.ticket_id !== current.ticket.id) return;
    showAssignment(message.assignment);
  }

  function showHistory(history) {
    $("history-count").textContent = history.length ? "(" + history.length + ")" : "(panggilan pertama)";
    $("history").replaceChildren(
      ...history.map((t) => {
        const line = ticketLine(t);
        line.prepend(el("time", new Date(t.arrived_at).toLocaleString("id-ID"), "when"), " ");
        if (t.outcome) line.append(" ", el("span", t.outcome, "outcome"));
        return line;
      }),
    );
  }

  function showCards(cards, checklist) {
    const box = $("cards");
    box.replaceChildren();
    for (const card of cards) {
      const section = el("section", undefined, "card");
      section.append(el("h3", card.category === "umum" ? "Semua panggilan" : categoryNames[card.category] || card.category));
      for (const [kind, title] of [["ask", "Tanyakan"], ["tell", "Sampaikan"]]) {
        if (!card[kind].length) continue;
        section.append(el("h4", title));
        const list = el("ul");
        for (const item of card[kind]) {
          const label = el("label");
          const box = el("input");
          box.type = "checkbox";
          box.dataset.item = item.id;
          box.checked = Boolean(checklist[item.id]);
          box.addEventListener("change", () => tick(item.id, box));
          label.append(box, " ", el("span", item.text));
          const line = el("li");
          line.append(label);
          list.append(line);
        }
        section.append(list);
      }
      box.append(section);
    }
    $("protocol").hidden = cards.length === 0;
  }

  function tick(item, box) {
    if (!current) return;
    attempt(api("PATCH", `/api/tickets/${current.ticket.id}`, { checklist: { [item]: box.checked } }));
  }

  async function saveForm() {
    if (!current) return;
    const values = formValues();
    const changes = {};
    for (const name of FORM_FIELDS) if (values[name] !== current.saved[name]) changes[name] = values[name] || (name === "category" ? null : "");
    if ("kelurahan" in changes && !("kecamatan" in changes)) changes.kecamatan = values.kecamatan;
    if (!Object.keys(changes).length) {
      $("saved").textContent = "Tidak ada perubahan";
      return;
    }
    const ticket = await api("PATCH", `/api/tickets/${current.ticket.id}`, changes);
    current.saved = values;
    current.ticket = { ...current.ticket, ...ticket };
    $("saved").textContent = "Tersimpan " + clock(new Date().toISOString());
  }

  let popsShown = 0; // as desksShown: a reload does not undo a newer screen-pop

  async function pop(ticket, stage, uniqueId) {
    popsShown += 1;
    if (current && current.ticket.id !== ticket.id) {
      await saveForm().catch(() => {}); // an answered call replaces the last one: keep its notes
    }
    const same = current && current.ticket.id === ticket.id;
    current = { ticket, uniqueId, saved: same ? current.saved : {}, assignments: same ? current.assignments : new Map() };
    $("call").hidden = false;
    $("alert").hidden = true;
    $("pop-stage").textContent = stage === "ringing" ? "berdering" : "tersambung";
    $("pop-stage").dataset.stage = stage;
    showLive(ticket);
    if (!same) {
      fillForm(ticket);
      $("events").replaceChildren();
      $("assignments").replaceChildren();
      $("saved").textContent = "";
      $("f-note").value = "";
      $("noted").textContent = "";
    }
    for (const event of ticket.events || []) showEvent(event);
    showHistory(ticket.history || []);
    showCards(ticket.protocol || [], ticket.checklist || {});
  }

  async function refresh() {
    if (!current) return;
    const detail = await api("GET", `/api/tickets/${current.ticket.id}`);
    current.ticket = { ...current.ticket, ...detail };
    showLive(current.ticket);
    for (const event of detail.events) showEvent(event);
  }

  function ticketChanged(message) {
    track(message.ticket);
    if (!current || message.ticket.id !== current.ticket.id) return;
    current.ticket = { ...current.ticket, ...message.ticket };
    showLive(current.ticket);
    if (message.event) showEvent(message.event);
    // What the caller says grows on the ticket: fetch it whole (it is not on the feed).
    if (["speech", "speech-heard", "transcribed"].includes(message.kind)) attempt(refresh());
  }

  // A note for whoever follows the ticket up (the agencies read it): it shows in the log when the
  // feed brings it, and at once from the ticket read again.
  async function addNote() {
    if (!current) return;
    const text = $("f-note").value.trim();
    if (!text) {
      $("noted").textContent = "Catatan masih kosong";
      return;
    }
    const ticketId = current.ticket.id;
    await api("POST", `/api/tickets/${ticketId}/notes`, { text });
    if (!current || current.ticket.id !== ticketId) return;
    $("f-note").value = "";
    $("noted").textContent = "Catatan ditambahkan " + clock(new Date().toISOString());
    await refresh();
  }

  // The ticket is the agency's without bridging anyone (a report that needs no conference, a
  // caller who has hung up): it goes by the ticket, so it works after the call has ended. The
  // feed may have brought this assignment first, and a newer status of it: that one stays.
  async function assignAgency() {
    if (!current) return;
    const ticketId = current.ticket.id;
    const reply = await api("POST", `/api/tickets/${ticketId}/assignments`, { agency: $("agency").value });
    notice("");
    if (!current || current.ticket.id !== ticketId) return;
    if (!current.assignments.has(reply.assignment.id)) showAssignment(reply.assignment);
  }

  function callAction(path, body) {
    if (!current) return;
    attempt(api("POST", `/api/calls/${current.uniqueId}/${path}`, body).then(() => notice("")));
  }

  // ---- the live feed --------------------------------------------------------------------------

  const LOGGED_OUT = 4401; // the feed's close code when the session has ended
  let seq = 0;
  let retry = 500;

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws/live`);
    socket.addEventListener("open", () => {
      seq = 0;
      retry = 500;
      $("link").textContent = "tersambung";
      $("link").dataset.up = "yes";
      attempt(reload());
    });
    socket.addEventListener("message", (raw) => {
      const message = JSON.parse(raw.data);
      if (message.seq !== seq + 1) attempt(reload()); // a gap: what we show may be stale
      seq = message.seq;
      if (message.type === "desk") showDesk(message.desk);
      else if (message.type === "screen-pop") attempt(pop(message.ticket, message.stage, message.unique_id));
      else if (message.type === "ticket") ticketChanged(message);
      else if (message.type === "assignment") assignmentChanged(message);
      else if (message.type === "outage") window.ngalamOutage.show(message.down);
      else if (message.type === "alert" && message.kind === "dispatch-failed" && current && message.ticket_id === current.ticket.id) {
        $("alert").textContent = `Instansi ${message.agency} tidak menjawab. Penelepon masih bersama Anda.`;
        $("alert").hidden = false;
      }
    });
    socket.addEventListener("close", (event) => {
      // The session ended (a logout, here or in another tab, or its hours ran out): the caller
      // data on this screen goes with it.
      if (event.code === LOGGED_OUT) return location.assign("/login");
      $("link").textContent = "terputus";
      $("link").dataset.up = "no";
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 10000);
    });
  }

  async function reload() {
    const shownBefore = desksShown;
    const poppedBefore = popsShown;
    const fed = new Map();
    fedDuringReloads.add(fed);
    let me, queues, placeList;
    try {
      [me, queues, placeList] = await Promise.all([
        api("GET", "/api/me"),
        api("GET", "/api/queues"),
        Object.keys(places).length ? Promise.resolve(null) : api("GET", "/api/places"),
      ]);
    } finally {
      fedDuringReloads.delete(fed);
    }
    if (placeList) places = placeList.kecamatan;
    if (me.desk && desksShown === shownBefore) showDesk(me.desk);
    waiting.clear();
    for (const ticket of queues.queues[0].waiting) waiting.set(ticket.id, ticket);
    // Then the latest the feed said of each ticket meanwhile: as new as the list, or newer.
    for (const ticket of fed.values()) keepWaiting(ticket);
    showQueue();
    if (me.call && popsShown === poppedBefore) await pop(me.call, me.desk && me.desk.state === "ringing" ? "ringing" : "answered", me.call.unique_id);
  }

  // ---- wiring ---------------------------------------------------------------------------------

  $("btn-join").addEventListener("click", () => want("available"));
  $("btn-unpause").addEventListener("click", () => want("available"));
  $("btn-pause").addEventListener("click", () => want("paused"));
  $("btn-leave").addEventListener("click", () => want("logged-out"));
  $("f-kecamatan").addEventListener("change", () => fillPlaces($("f-kecamatan").value, ""));
  $("ticket-form").addEventListener("submit", (event) => {
    event.preventDefault();
    attempt(saveForm());
  });
  $("btn-note").addEventListener("click", () => attempt(addNote()));
  $("btn-dispatch").addEventListener("click", () => callAction("dispatch", { agency: $("agency").value }));
  $("btn-assign").addEventListener("click", () => attempt(assignAgency()));
  $("btn-hold").addEventListener("click", () => callAction("hold"));
  $("btn-resume").addEventListener("click", () => callAction("resume"));
  $("btn-hangup").addEventListener("click", () => callAction("hangup"));
  for (const flag of boot.flags) {
    $("btn-" + flag).addEventListener("click", () => {
      if (current) attempt(api("PATCH", `/api/tickets/${current.ticket.id}`, { flags: { [flag]: true } }));
    });
  }
  $("btn-close").addEventListener("click", () => {
    if (!current) return;
    attempt(
      saveForm().then(() =>
        api("POST", `/api/tickets/${current.ticket.id}/close`, { outcome: $("outcome").value }).then((t) => {
          current.ticket = { ...current.ticket, ...t };
          showLive(current.ticket);
          notice("Tiket #" + t.id + " ditutup: " + t.outcome);
        }),
      ),
    );
  });
  connect();
})();
