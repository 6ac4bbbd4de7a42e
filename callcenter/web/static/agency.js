// An agency's page: its open tickets from the centre, most urgent and most overdue first (the
// server's order), and the buttons that move each through the agency loop. Live over /ws/live:
// each change of one of its assignments reloads the list. Caller-supplied text is written with
// textContent only; the caller's number is here only if the server sent it.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const STATUSES = {
    assigned: "baru, belum diterima",
    acknowledged: "diterima",
    "en-route": "berangkat",
    "on-scene": "tiba di lokasi",
    cleared: "selesai",
    declined: "ditolak",
  };
  const DEADLINES = { acknowledge: "terima", "on-scene": "tiba di lokasi", cleared: "selesai" };
  // The forward path (routing/agency_loop.py): a button shows only for a step still ahead.
  const PATH = ["assigned", "acknowledged", "en-route", "on-scene", "cleared"];
  let items = [];

  function notice(text, bad) {
    $("notice").textContent = text;
    $("notice").className = bad ? "notice bad" : "notice";
    $("notice").hidden = !text;
  }

  async function api(method, path, body) {
    const response = await fetch(path, {
      method,
      credentials: "same-origin",
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await response.json().catch(() => null);
    if (response.status === 401) {
      location.assign("/login");
      throw new Error("sesi berakhir");
    }
    if (!response.ok) throw new Error((data && data.error) || response.statusText);
    return data;
  }

  function time(iso) {
    return iso ? new Date(iso).toLocaleString("id-ID", { hour12: false }) : "";
  }

  function set(card, selector, text) {
    card.querySelector(selector).textContent = text === null || text === undefined ? "" : String(text);
  }

  function card(item) {
    const { assignment: a, ticket: t } = item;
    const node = $("card").content.firstElementChild.cloneNode(true);
    const overdue = Boolean(a.deadline_at) && Date.parse(a.deadline_at) <= Date.now();
    node.dataset.assignment = String(a.id);
    node.dataset.ticket = String(t.id);
    node.dataset.status = a.status;
    node.dataset.overdue = overdue ? "yes" : "no";
    set(node, ".ticket-id", t.id);
    set(node, ".category", t.category_name || t.category || "kategori belum diketahui");
    set(node, ".status", STATUSES[a.status] || a.status);
    set(node, ".deadline", a.deadline
      ? (overdue ? "TERLAMBAT: " : "") + "harus " + (DEADLINES[a.deadline] || a.deadline) + " sebelum " + time(a.deadline_at)
      : "");
    set(node, ".what", t.what || "–");
    set(node, ".place", [t.kelurahan, t.kecamatan].filter(Boolean).join(", ") || "kelurahan belum diketahui");
    set(node, ".address", t.address);
    set(node, ".landmark", t.landmark ? "(" + t.landmark + ")" : "");
    set(node, ".where", t.where);
    set(node, ".who", t.who || "–");
    set(node, ".transcript", t.transcript || "–");
    set(node, ".arrived", time(t.arrived_at));
    if ("caller_number" in t) {
      set(node, ".caller", [t.caller_number || "(tanpa nomor)", t.caller_name].filter(Boolean).join(" "));
    } else {
      node.querySelector(".caller-label").remove();
      node.querySelector(".caller").remove();
    }
    node.querySelector(".notes").replaceChildren(
      ...t.notes.map((n) => {
        const line = document.createElement("li");
        line.textContent = time(n.at) + " " + n.author + ": " + n.text;
        return line;
      }),
    );
    const here = PATH.indexOf(a.status);
    for (const button of node.querySelectorAll("button[data-to]")) {
      const to = button.dataset.to;
      if (to === "declined") button.hidden = here >= PATH.indexOf("on-scene");
      else button.hidden = PATH.indexOf(to) <= here;
      button.addEventListener("click", () => move(node, a.id, to));
    }
    node.querySelector(".btn-note").addEventListener("click", () => addNote(node, t.id));
    return node;
  }

  // A note for the centre on the ticket (what the officers found, what they need): it joins the
  // centre's notes, on this page and in the EIDO document.
  async function addNote(node, ticketId) {
    const text = node.querySelector(".note").value.trim();
    if (!text) return notice("Tuliskan catatan terlebih dahulu.", true);
    for (const button of node.querySelectorAll("button")) button.disabled = true;
    try {
      await api("POST", `/api/tickets/${ticketId}/notes`, { text });
      node.querySelector(".note").value = "";
      notice("Catatan ditambahkan");
    } catch (error) {
      notice("Gagal: " + error.message, true);
    } finally {
      await reload().catch((error) => notice(error.message, true));
    }
  }

  async function move(node, id, to) {
    const text = node.querySelector(".text").value.trim();
    if (to === "cleared" && !text) return notice("Tuliskan hasil penanganan sebelum menyelesaikan.", true);
    if (to === "declined" && !text) return notice("Tuliskan alasan menolak.", true);
    for (const button of node.querySelectorAll("button")) button.disabled = true;
    try {
      await api("POST", `/api/assignments/${id}/status`, to === "cleared" || to === "declined" ? { status: to, text } : { status: to });
      notice("Tercatat: " + (STATUSES[to] || to));
    } catch (error) {
      notice("Gagal: " + error.message, true);
    } finally {
      await reload().catch((error) => notice(error.message, true));
    }
  }

  function render() {
    // A text being typed survives the redraw a live change causes.
    const typed = new Map();
    for (const node of $("assignments").children) {
      for (const field of [".text", ".note"]) {
        const text = node.querySelector(field).value;
        if (text) typed.set(node.dataset.assignment + field, text);
      }
    }
    $("assignments").replaceChildren(...items.map(card));
    for (const node of $("assignments").children) {
      for (const field of [".text", ".note"]) {
        const key = node.dataset.assignment + field;
        if (typed.has(key)) node.querySelector(field).value = typed.get(key);
      }
    }
    $("open-count").textContent = String(items.length);
    $("empty").hidden = items.length > 0;
  }

  async function reload() {
    const data = await api("GET", "/api/agency/assignments");
    items = data.assignments;
    render();
  }

  let retry = 500;
  function connect() {
    const socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/live`);
    socket.addEventListener("open", () => {
      retry = 500;
      $("link").textContent = "tersambung";
      $("link").dataset.up = "yes";
      reload().catch((error) => notice(error.message, true));
    });
    socket.addEventListener("message", (raw) => {
      const message = JSON.parse(raw.data);
      if (message.type === "assignment") reload().catch((error) => notice(error.message, true));
    });
    socket.addEventListener("close", (event) => {
      if (event.code === 4401) return location.assign("/login"); // the session has ended
      $("link").textContent = "terputus";
      $("link").dataset.up = "no";
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 10000);
    });
  }

  // What the centre adds to a ticket (its notes, the place) is not on this feed: read it again
  // now and then, and let a deadline that passes show as overdue.
  setInterval(() => reload().catch(() => {}), 30000);
  connect();
})();
