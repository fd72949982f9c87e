/* Listening: the local audio copy, each segment from its start, the current word highlighted
   (CSS Custom Highlight API: no change to the DOM), unsure words underlined, keyboard control. */
  const audio = $("audio");
  if (D.audio) audio.src = D.audio; // load while the transcript renders; the CSP allows this folder only
  let playingSeg = -1;
  let starts = [];
  let rafId = 0;
  let lowPending = 0;
  const LOW = window.Highlight ? new Highlight() : null;
  if (LOW) CSS.highlights.set("lowword", LOW);
  let lowBySeg = [];

  // The text node and offset inside it for UTF-16 offset `off` of segment g's text.
  function pointAt(g, off) {
    const spans = segEls[g].querySelectorAll(".txt [data-o]");
    for (const sp of spans) {
      const o = +sp.dataset.o, n = sp.firstChild;
      if (n && off >= o && off <= o + n.length) return [n, off - o];
    }
    return null;
  }

  function wordRange(g, s, e) {
    if (s < 0 || e <= s) return null;
    const a = pointAt(g, s), b = pointAt(g, e);
    if (!a || !b) return null;
    const r = document.createRange();
    r.setStart(a[0], a[1]);
    r.setEnd(b[0], b[1]);
    return r;
  }

  // Unsure words (probability below D.low_word): highlighted once the page has painted, then per
  // re-rendered segment.
  function lowRanges(g) {
    const w = segs[g][6], out = [];
    for (let k = 0; k < w.length; k += 5) {
      if (w[k + 4] < D.low_word) {
        const r = wordRange(g, w[k], w[k + 1]);
        if (r) out.push(r);
      }
    }
    return out;
  }

  function afterRender(g) {
    starts = segs.map((s) => s[1]);
    playingSeg = -1;
    if (!LOW) return;
    if (g !== undefined && lowBySeg.length === segs.length) {
      for (const r of lowBySeg[g]) LOW.delete(r);
      lowBySeg[g] = lowRanges(g);
      for (const r of lowBySeg[g]) LOW.add(r);
      return;
    }
    cancelIdleCallback(lowPending);
    lowPending = requestIdleCallback(
      () => {
        LOW.clear();
        lowBySeg = segs.map((_, k) => lowRanges(k));
        let n = 0;
        for (const rs of lowBySeg) for (const r of rs) LOW.add(r), n++;
        document.documentElement.dataset.lowWords = String(n);
        performance.mark("review-low-words");
      },
      { timeout: 1500 }
    );
  }

  // The segment playing at time t: the last one starting at or before t.
  function segAt(t) {
    let lo = 0, hi = starts.length - 1, best = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (starts[mid] <= t) {
        best = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return best;
  }

  function showNow() {
    const t = audio.currentTime;
    $("clock").textContent = clock(t);
    const g = segAt(t);
    if (g !== playingSeg) {
      if (playingSeg >= 0 && segEls[playingSeg]) segEls[playingSeg].classList.remove("playing");
      playingSeg = g;
      if (g >= 0) {
        segEls[g].classList.add("playing");
        if ($("follow").checked) {
          const b = segEls[g].getBoundingClientRect();
          if (b.top < $("bar").offsetHeight || b.bottom > innerHeight) segEls[g].scrollIntoView({ block: "center" });
        }
      }
    }
    let range = null;
    if (g >= 0 && CSS.highlights) {
      const w = segs[g][6];
      for (let k = 0; k < w.length; k += 5) {
        if (w[k + 2] <= t && t < w[k + 3]) {
          range = wordRange(g, w[k], w[k + 1]);
          document.documentElement.dataset.nowWord = g + ":" + w[k];
          break;
        }
      }
    }
    if (window.CSS && CSS.highlights) {
      if (range) CSS.highlights.set("now", new Highlight(range));
      else CSS.highlights.delete("now");
    }
  }

  function loop() {
    showNow();
    rafId = audio.paused ? 0 : requestAnimationFrame(loop);
  }

  // Seek to segment g's start; resolves when the audio is there.
  function seekTo(g) {
    return new Promise((resolve) => {
      if (g < 0 || g >= segs.length) return resolve(false);
      const done = () => {
        showNow();
        resolve(true);
      };
      audio.addEventListener("seeked", done, { once: true });
      audio.currentTime = segs[g][1];
    });
  }

  function playSeg(g) {
    seekTo(g).then(() => audio.play());
  }

  function togglePlay() {
    if (audio.paused) audio.play();
    else audio.pause();
  }

  function step(dir) {
    const g = segAt(audio.currentTime + 0.01);
    const target = Math.max(0, Math.min(segs.length - 1, (g < 0 ? -1 : g) + dir));
    const wasPlaying = !audio.paused;
    seekTo(target).then(() => wasPlaying && audio.play());
  }

  function setRate(r) {
    audio.playbackRate = r;
    $("rate").value = String(r);
  }

  function slower() {
    const opts = [0.5, 0.75, 1, 1.25];
    const i = opts.indexOf(audio.playbackRate);
    setRate(opts[Math.max(0, (i < 0 ? 2 : i) - 1)]);
  }

  function wirePlayer() {
    if (!D.audio) return;
    $("player").hidden = false;
    audio.addEventListener("play", () => {
      $("play").textContent = "\u23f8 Pause";
      if (!rafId) rafId = requestAnimationFrame(loop);
    });
    audio.addEventListener("pause", () => {
      $("play").textContent = "\u25b6 Play";
      showNow();
    });
    audio.addEventListener("canplay", () => {
      if (!document.documentElement.dataset.audioReady) {
        performance.mark("review-audio-ready");
        document.documentElement.dataset.audioReady = "1";
      }
    });
    audio.addEventListener("error", () => say("The audio file " + D.audio + " could not be played.", "err"));
    $("play").addEventListener("click", togglePlay);
    $("back").addEventListener("click", () => (audio.currentTime = Math.max(0, audio.currentTime - 3)));
    $("next-seg").addEventListener("click", () => step(1));
    $("rate").addEventListener("change", () => setRate(parseFloat($("rate").value)));
  }

  // Keys outside text fields; true when the key was used.
  function playerKey(ev) {
    if (!D.audio) return false;
    if (ev.key === " ") togglePlay();
    else if (ev.key === "ArrowLeft") audio.currentTime = Math.max(0, audio.currentTime - 3);
    else if (ev.key === "ArrowDown") step(1);
    else if (ev.key === "ArrowUp") step(-1);
    else if (ev.key === "-") slower();
    else if (ev.key === "=") setRate(1);
    else return false;
    ev.preventDefault();
    return true;
  }
