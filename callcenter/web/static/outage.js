// The outage banner of the board and the console ("outage" messages on /ws/live): which parts of
// the centre are down and since when, with a beep when a part goes down (and again every minute
// while any is), gone when all are back. Loaded before board.js and console.js.
"use strict";

window.ngalamOutage = (() => {
  const REPEAT_MS = 60000;
  let audio = null;
  let down = new Set();
  let repeat = null;

  // Three short tones (Web Audio: nothing to download). A browser lets a page sound only once
  // someone has touched it; until then the context waits, and the first click lets it play.
  function beep() {
    const banner = document.getElementById("outage");
    banner.dataset.beeps = String(Number(banner.dataset.beeps || 0) + 1);
    try {
      audio = audio || new AudioContext();
      if (audio.state === "suspended") audio.resume().catch(() => {});
      const now = audio.currentTime;
      for (const [start, frequency] of [[0, 880], [0.3, 660], [0.6, 880]]) {
        const tone = audio.createOscillator();
        const volume = audio.createGain();
        tone.frequency.value = frequency;
        volume.gain.setValueAtTime(0.3, now + start);
        volume.gain.exponentialRampToValueAtTime(0.001, now + start + 0.25);
        tone.connect(volume).connect(audio.destination);
        tone.start(now + start);
        tone.stop(now + start + 0.25);
      }
    } catch (error) {
      // No sound device: the banner alone has to do.
    }
  }

  document.addEventListener("pointerdown", () => {
    if (audio && audio.state === "suspended") audio.resume().catch(() => {});
  });

  function show(parts) {
    const banner = document.getElementById("outage");
    banner.replaceChildren(
      ...parts.map((part) => {
        const line = document.createElement("p");
        line.textContent = part.text;
        line.dataset.part = part.part;
        return line;
      }),
    );
    banner.hidden = parts.length === 0;
    const now = new Set(parts.map((part) => part.part));
    const fresh = [...now].some((part) => !down.has(part));
    down = now;
    clearInterval(repeat);
    repeat = now.size ? setInterval(beep, REPEAT_MS) : null;
    if (fresh) beep();
  }

  return { show };
})();
