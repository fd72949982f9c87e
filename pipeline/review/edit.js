/* Correcting: edit a segment's words, change its speaker, mark [inaudible] / overlap, split, merge,
   delete. Corrections replace entries of `segs` with new arrays that remember the original segment
   ids they came from (`src`); the decisions file holds them as groups (see fileformat.py). Word
   times here are approximate (for the highlight only); apply-review aligns them properly. */
  const ORIG_INDEX = new Map(D.segments.map((s, i) => [s[0], i]));
  const TOP_ID = D.segments.reduce((m, s) => Math.max(m, s[0]), -1);
  const SPEAKERS = new Map(D.speakers.map((x) => [x[0], x[1]]));
  let nextSegId = TOP_ID + 1;
  let deletedIds = new Set();
  let editing = -1;

  const tidy = (t) => t.split(/\s+/).filter(Boolean).join(" ");
  const srcOf = (s) => s.src || [s[0]];

  // Words for new text: the old ones when the words are unchanged, else spread over [t0, t1].
  function roughWords(text, t0, t1, old) {
    const toks = [];
    const re = /\S+/g;
    let m;
    while ((m = re.exec(text)) !== null) toks.push([m.index, m.index + m[0].length]);
    const out = [];
    if (old && old.length === toks.length * 5) {
      toks.forEach(([a, b], k) => out.push(a, b, old[k * 5 + 2], old[k * 5 + 3], old[k * 5 + 4]));
      return out;
    }
    const step = toks.length ? Math.max(t1 - t0, 0) / toks.length : 0;
    toks.forEach(([a, b], k) => out.push(a, b, +(t0 + k * step).toFixed(2), +(t0 + (k + 1) * step).toFixed(2), 1));
    return out;
  }

  function makeSeg(id, t0, t1, spk, text, overlap, src, oldWords) {
    const s = [id, t0, t1, SPEAKERS.get(spk) || spk || "", text, spk, roughWords(text, t0, t1, oldWords), !!overlap];
    s.src = src.slice();
    return s;
  }

  function changed() {
    editing = -1;
    reindex();
    renderAll();
    applyFilter();
    dirty = true;
    updateCorrCount();
  }

  function updateCorrCount() {
    const n = correctionGroups().length;
    $("corr-count").textContent = n ? n + " correction(s) in this review" : "";
  }

  // ---------------------------------------------------------------- the editor
  function openEditor(g) {
    if (editing >= 0 && editing !== g) renderAll();
    editing = g;
    const s = segs[g];
    const ta = h("textarea", { "aria-label": "segment text", spellcheck: "true" });
    ta.value = s[4];
    const sel = h("select", { "aria-label": "speaker" }, [
      h("option", { value: "" }, ["(no speaker)"]),
      ...D.speakers.map((x) => h("option", { value: x[0] }, [x[1] + " (" + x[0] + ")"])),
    ]);
    sel.value = s[5] ?? "";
    const ov = h("input", { type: "checkbox" });
    ov.checked = !!s[7];
    const btn = (act, label, title) => h("button", { type: "button", "data-e": act, title }, [label]);
    const ed = h("div", { class: "editor" }, [
      ta,
      h("div", { class: "row" }, [
        h("label", null, ["Speaker ", sel]),
        h("label", null, [ov, " overlap"]),
        btn("save", "Save", "Save the correction (Ctrl+Enter)"),
        btn("cancel", "Cancel", "Discard (Escape)"),
        btn("inaudible", "[inaudible]", "Insert [inaudible] at the cursor"),
        btn("split", "Split at cursor", "Two segments: the text before and after the cursor"),
        btn("merge", "Merge with next", "Join this segment and the next one"),
        btn("delete", "Delete segment", "Remove this segment (e.g. words that were never said)"),
      ]),
    ]);
    segEls[g].querySelector(".txt").replaceChildren(ed);
    ed.addEventListener("click", (ev) => {
      const b = ev.target.closest("button[data-e]");
      if (!b) return;
      const act = b.dataset.e;
      if (act === "inaudible") {
        const p = ta.selectionStart;
        ta.setRangeText((p > 0 && ta.value[p - 1] !== " " ? " " : "") + "[inaudible] ", p, ta.selectionEnd, "end");
        return ta.focus();
      }
      if (act === "cancel") return changed();
      if (act === "delete") return deleteSeg(g);
      if (act === "merge") return mergeNext(g, ta.value, sel.value || null, ov.checked);
      if (act === "split") return splitAt(g, ta.selectionStart, ta.value, sel.value || null, ov.checked);
      saveEdit(g, ta.value, sel.value || null, ov.checked);
    });
    ed.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) saveEdit(g, ta.value, sel.value || null, ov.checked);
      else if (ev.key === "Escape") changed();
    });
    ta.focus();
  }

  function saveEdit(g, text, spk, overlap) {
    const s = segs[g];
    text = tidy(text);
    if (!text) return say("A segment needs text; use Delete segment to remove it.", "err");
    if (text === s[4] && spk === (s[5] ?? null) && overlap === !!s[7]) return changed();
    segs[g] = makeSeg(s[0], s[1], s[2], spk, text, overlap, srcOf(s), text === s[4] ? s[6] : null);
    changed();
    say("Segment corrected.", "ok");
  }

  function splitAt(g, pos, text, spk, overlap) {
    const s = segs[g];
    const a = tidy(text.slice(0, pos)), b = tidy(text.slice(pos));
    if (!a || !b) return say("Put the cursor where the new segment should start.", "err");
    const cut = s[1] + ((s[2] - s[1]) * a.length) / (a.length + b.length);
    const first = makeSeg(s[0], s[1], +cut.toFixed(2), spk, a, overlap, srcOf(s), null);
    const second = makeSeg(nextSegId++, +cut.toFixed(2), s[2], spk, b, overlap, srcOf(s), null);
    segs.splice(g, 1, first, second);
    changed();
    say("Segment split in two.", "ok");
  }

  function mergeNext(g, text, spk, overlap) {
    if (g + 1 >= segs.length) return say("This is the last segment.", "err");
    const s = segs[g], n = segs[g + 1];
    const joined = tidy(tidy(text) + " " + n[4]);
    const src = [...new Set([...srcOf(s), ...srcOf(n)])];
    segs.splice(g, 2, makeSeg(s[0], s[1], n[2], spk, joined, overlap || !!n[7], src, null));
    changed();
    say("Segments merged.", "ok");
  }

  function deleteSeg(g) {
    const s = segs[g];
    segs.splice(g, 1);
    for (const id of srcOf(s)) if (!segs.some((x) => srcOf(x).includes(id))) deletedIds.add(id);
    changed();
    say("Segment deleted.", "ok");
  }

  // ---------------------------------------------------------------- corrections as groups
  function correctionGroups() {
    const runs = [];
    let cur = null;
    for (const s of segs) {
      const src = srcOf(s);
      if (cur && src.some((x) => cur.rep.has(x))) {
        src.forEach((x) => cur.rep.add(x));
        cur.segs.push(s);
      } else {
        cur = { rep: new Set(src), segs: [s] };
        runs.push(cur);
      }
    }
    for (const id of deletedIds) runs.push({ rep: new Set([id]), segs: [] });
    for (const r of runs) {
      const idx = [...r.rep].map((x) => ORIG_INDEX.get(x));
      r.lo = Math.min(...idx);
      r.hi = Math.max(...idx);
    }
    runs.sort((a, b) => a.lo - b.lo || a.hi - b.hi);
    const merged = [];
    for (const r of runs) {
      const last = merged[merged.length - 1];
      if (last && r.lo <= last.hi) {
        last.hi = Math.max(last.hi, r.hi);
        last.segs.push(...r.segs);
      } else merged.push(r);
    }
    return merged
      .filter((r) => !(r.lo === r.hi && r.segs.length === 1 && ORIG.has(r.segs[0])))
      .map((r) => ({
        replaces: D.segments.slice(r.lo, r.hi + 1).map((s) => s[0]),
        segments: r.segs.map((s) => ({ id: s[0], speaker: s[5] ?? null, text: s[4], overlap: !!s[7] })),
      }));
  }

  // Check corrections from a decisions file as apply-review does; an error message, or null.
  function checkCorrections(items) {
    if (!Array.isArray(items)) return "'corrections' must be a list.";
    const replaced = new Set(), ids = new Set();
    for (let n = 0; n < items.length; n++) {
      const c = items[n], where = "Correction " + (n + 1) + ": ";
      if (!isObj(c) || !keysIn(c, ["replaces", "segments"]) || !Array.isArray(c.replaces) || !Array.isArray(c.segments))
        return where + "needs 'replaces' and 'segments' lists.";
      if (!c.replaces.length || !c.replaces.every((x) => isInt(x) && ORIG_INDEX.has(x))) return where + "replaces an unknown segment.";
      const first = ORIG_INDEX.get(c.replaces[0]);
      if (!c.replaces.every((x, k) => ORIG_INDEX.get(x) === first + k)) return where + "'replaces' must list consecutive segments in order.";
      if (c.replaces.some((x) => replaced.has(x))) return where + "a segment is replaced by two corrections.";
      c.replaces.forEach((x) => replaced.add(x));
      for (const s of c.segments) {
        if (!isObj(s) || !keysIn(s, ["id", "speaker", "text", "overlap"])) return where + "a segment has unknown keys.";
        if (!isInt(s.id) || s.id < 0 || ids.has(s.id) || (s.id <= TOP_ID && !c.replaces.includes(s.id))) return where + "a segment id is taken or invalid.";
        if (s.speaker !== undefined && s.speaker !== null && !SPEAKERS.has(s.speaker)) return where + "unknown speaker.";
        if (typeof s.text !== "string" || !s.text.trim() || s.text.length > 20000) return where + "a segment's text is missing or too long.";
        if (s.overlap !== undefined && typeof s.overlap !== "boolean") return where + "'overlap' must be true or false.";
        ids.add(s.id);
      }
    }
    return null;
  }

  // The segment list with checked corrections applied (state untouched): {segs, deleted, next}.
  function withCorrections(items) {
    const out = D.segments.slice(), deleted = new Set();
    let next = TOP_ID + 1;
    const sorted = items.slice().sort((a, b) => ORIG_INDEX.get(a.replaces[0]) - ORIG_INDEX.get(b.replaces[0]));
    for (const c of sorted.reverse()) {
      const lo = ORIG_INDEX.get(c.replaces[0]), run = D.segments.slice(lo, lo + c.replaces.length);
      const t0 = run[0][1], t1 = run[run.length - 1][2];
      const total = c.segments.reduce((n, s) => n + s.text.length, 0) || 1;
      let t = t0;
      const fresh = c.segments.map((s) => {
        const end = t + ((t1 - t0) * s.text.length) / total;
        const spk = s.speaker === undefined || s.speaker === null ? run[0][5] : s.speaker;
        const x = makeSeg(s.id, +t.toFixed(2), +end.toFixed(2), spk, s.text, s.overlap, c.replaces, null);
        t = end;
        next = Math.max(next, s.id + 1);
        return x;
      });
      if (!fresh.length) c.replaces.forEach((x) => deleted.add(x));
      out.splice(lo, c.replaces.length, ...fresh);
    }
    return { segs: out, deleted, next };
  }
