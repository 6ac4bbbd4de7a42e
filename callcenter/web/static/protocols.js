// Supervisors rewrite the protocol cards: one item per line, saved with PUT /api/protocols/{category}.
"use strict";

(() => {
  const lines = (text) => text.split("\n").map((line) => line.trim()).filter(Boolean);

  for (const form of document.querySelectorAll(".card-form")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const status = form.querySelector(".saved");
      const body = { ask: lines(form.elements.ask.value), tell: lines(form.elements.tell.value) };
      const response = await fetch(`/api/protocols/${encodeURIComponent(form.dataset.category)}`, {
        method: "PUT",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      const data = await response.json().catch(() => ({}));
      status.textContent = response.ok ? "Tersimpan, diubah oleh " + data.updated_by : "Gagal: " + (data.error || response.status);
      status.className = response.ok ? "saved" : "saved error";
    });
  }
})();
