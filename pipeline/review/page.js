/* The review page's core: data, rendering, filters, redaction decisions, marking, project lists.
   page.py joins page.js, file.js, player.js, edit.js and main.js into one strict function scope,
   renders the transcript as DOM nodes (text only), filters by toggling classes; no network, no storage. */
  const D = JSON.parse(document.getElementById("review-data").textContent);
  // The current segments: [id, start, end, speaker label, text, speaker id, words, overlap], where
  // words is flat (UTF-16 start, end, start time, end time, probability, ...). Corrections replace
  // entries with new arrays (see edit.js); ORIG holds the untouched ones.
  let segs = D.segments.slice();
  const ORIG = new Set(segs);
  const reds = D.redactions; // {id, g (segment index), s, e (UTF-16 offsets), ty, sc, rc, rp, fl, pd}
  const $ = (id) => document.getElementById(id);
  const ASTRAL = /[\uD800-\uDBFF]/;
  const dec = new Map(); // redaction index -> "accept" | "reject"
  let adds = []; // {k, g, seg, s, e, ty}: spans marked as missed (UTF-16 offsets)
  let listAdds = []; // {list, term}
  let nextKey = 1;
  let dirty = false;
  let focusIdx = -1;
  reds.forEach((r) => {
    r.seg = segs[r.g];
    r.g0 = r.g; // index in the original segment list
  });
  D.restored.forEach((x) => (x.seg = segs[x.g]));
  let bySeg = [], restoredBySeg = [];
  reindex();

  // After corrections change the segment list: segment indexes again; replacements, restored spans
  // and marks on a corrected segment are dropped (apply-review detects its new text again).
  function reindex() {
    const at = new Map(segs.map((s, g) => [s, g]));
    bySeg = segs.map(() => []);
    restoredBySeg = segs.map(() => []);
    reds.forEach((r, i) => {
      r.g = at.has(r.seg) ? at.get(r.seg) : -1;
      if (r.g >= 0) bySeg[r.g].push(i);
      else dec.delete(i);
    });
    for (const x of D.restored) if (at.has(x.seg)) restoredBySeg[at.get(x.seg)].push(x);
    adds = adds.filter((a) => at.has(a.seg));
    for (const a of adds) a.g = at.get(a.seg);
  }
  let markEls = new Array(reds.length);
  let segEls = [];

  // Offsets: the page works in UTF-16 units (JavaScript strings); files use code points (Python).
  const toCp = (t, u) => (ASTRAL.test(t) ? Array.from(t.slice(0, u)).length : u);
  const toU16 = (t, c) => (ASTRAL.test(t) ? Array.from(t).slice(0, c).join("").length : c);

  function clock(sec) {
    const s = Math.floor(sec), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    return [h, m, s % 60].map((x) => String(x).padStart(2, "0")).join(":");
  }

  function say(text, kind) {
    const m = $("msg");
    m.textContent = text;
    m.className = kind || "";
  }

  // ---------------------------------------------------------------- rendering
  // Every node is built with the DOM API and every value goes in as text (textContent, setAttribute):
  // nothing from the transcript or a decisions file is ever parsed as HTML.
  function h(tag, attrs, kids) {
    const e = document.createElement(tag);
    if (attrs) for (const k in attrs) if (attrs[k] !== undefined && attrs[k] !== null) e.setAttribute(k, attrs[k]);
    if (kids) for (const c of kids) if (c !== null && c !== undefined && c !== "") e.append(c);
    return e;
  }

  function piece(t, a, b) {
    return a < b ? h("span", { "data-o": a }, [t.slice(a, b)]) : null;
  }

  function button(action, title, label) {
    return h("button", { class: "b", type: "button", "data-a": action, title }, [label]);
  }

  function redNode(i, t) {
    const r = reds[i], d = dec.get(i);
    let cls = "r t-" + r.ty + (r.fl.length ? " " + r.fl.join(" ") : "");
    if (d) cls += " d-" + d;
    else if (r.pd) cls += " p-" + r.pd[0];
    const title = r.pd ? "decided earlier: " + r.pd[0] + " by " + r.pd[1] + " on " + r.pd[2] : null;
    const ann = h("span", { class: "ann" }, [
      h("span", { class: "ty" }, [r.ty]), " " + r.sc.toFixed(2) + " " + r.rc,
      r.fl.length ? " " : null, r.fl.length ? h("span", { class: "fl", title: r.fl.join(", ") }, ["\u2691"]) : null,
      " \u2192 ", h("span", { class: "rep" }, [r.rp]),
    ]);
    return h("mark", { class: cls, id: "r" + i, "data-r": i, title }, [
      piece(t, r.s, r.e), ann,
      button("accept", "Accept the replacement", "\u2713"),
      button("reject", "Reject: keep the original text", "\u2717"),
    ]);
  }

  function addNode(a, t) {
    return h("mark", { class: "added t-" + a.ty, "data-add": a.k }, [
      piece(t, a.s, a.e),
      h("span", { class: "ann" }, [h("span", { class: "ty" }, [a.ty]), " marked by you"]),
      button("remove", "Remove this mark", "\u00d7"),
    ]);
  }

  function textNodes(g, addsHere) {
    const t = segs[g][4];
    const items = addsHere.map((a) => ({ s: a.s, e: a.e, n: () => addNode(a, t) }));
    const covered = (s, e) => addsHere.some((a) => a.s < e && s < a.e);
    for (const i of bySeg[g]) if (!covered(reds[i].s, reds[i].e)) items.push({ s: reds[i].s, e: reds[i].e, n: () => redNode(i, t) });
    for (const x of restoredBySeg[g])
      if (!covered(x.s, x.e))
        items.push({ s: x.s, e: x.e, n: () => h("span", { class: "restored", title: "restored: rejected by " + x.by + " on " + x.on }, [piece(t, x.s, x.e)]) });
    items.sort((a, b) => a.s - b.s || b.e - a.e);
    const out = [];
    let pos = 0;
    for (const it of items) {
      if (it.s < pos) continue;
      out.push(piece(t, pos, it.s), it.n());
      pos = it.e;
    }
    out.push(piece(t, pos, t.length));
    return out.filter((x) => x !== null);
  }

  function segNode(g, addsHere) {
    const s = segs[g];
    const cls = "seg" + (ORIG.has(s) ? "" : " edited") + (s[7] ? " overlap" : "");
    return h("div", { class: cls, id: "g" + g, "data-g": g }, [
      h("div", { class: "meta" }, [
        D.audio ? h("button", { class: "pb", type: "button", "data-p": "play", title: "Play this segment" }, ["\u25b6"]) : null,
        h("button", { class: "pb", type: "button", "data-p": "edit", title: "Correct this segment (words, speaker, split, merge)" }, ["\u270e"]),
        h("span", { class: "ts" }, [D.timed ? clock(s[1]) : "#" + s[0]]),
        h("span", { class: "spk" }, [s[3]]),
      ]),
      h("p", { class: "txt" }, textNodes(g, addsHere)),
    ]);
  }

  function addsBySeg() {
    const m = segs.map(() => []);
    for (const a of adds) m[a.g].push(a);
    return m;
  }

  function cacheMarks(root) {
    for (const el of root.querySelectorAll("mark[data-r]")) markEls[+el.dataset.r] = el;
  }

  function renderAll() {
    const by = addsBySeg();
    const frag = document.createDocumentFragment();
    for (let g = 0; g < segs.length; g++) frag.append(segNode(g, by[g]));
    const main = $("transcript");
    main.replaceChildren(frag);
    segEls = Array.from(main.children);
    markEls = new Array(reds.length);
    cacheMarks(main);
    afterRender();
  }

  function renderSeg(g) {
    for (const i of bySeg[g]) markEls[i] = undefined;
    segEls[g].querySelector(".txt").replaceChildren(...textNodes(g, adds.filter((a) => a.g === g)));
    cacheMarks(segEls[g]);
    afterRender(g);
  }

  // ---------------------------------------------------------------- filters and counts
  function decided(i) {
    return dec.has(i) || !!reds[i].pd;
  }

  function applyFilter() {
    const types = new Set(Array.from(document.querySelectorAll("#types input:checked"), (x) => x.dataset.type));
    const smin = parseFloat($("score-min").value);
    const smaxRaw = parseFloat($("score-max").value);
    const lo = isNaN(smin) ? 0 : smin - 1e-9, hi = isNaN(smaxRaw) ? 1 : smaxRaw + 1e-9;
    const fo = $("flagged-only").checked, uo = $("undecided-only").checked, compact = $("compact").checked;
    const shownSeg = new Uint8Array(segs.length);
    let shown = 0;
    for (let i = 0; i < reds.length; i++) {
      const el = markEls[i];
      if (!el) continue;
      const r = reds[i];
      const on = types.has(r.ty) && r.sc >= lo && r.sc <= hi && (!fo || r.fl.length > 0) && (!uo || !decided(i));
      el.classList.toggle("off", !on);
      if (on) {
        shownSeg[r.g] = 1;
        shown++;
      }
    }
    for (const a of adds) shownSeg[a.g] = 1;
    for (let g = 0; g < segEls.length; g++) segEls[g].classList.toggle("hide", compact && !shownSeg[g]);
    updateCounts(shown);
  }

  function updateCounts(shown) {
    let acc = 0, rej = 0;
    for (const a of dec.values()) a === "accept" ? acc++ : rej++;
    if (shown === undefined) shown = markEls.filter((el) => el && !el.classList.contains("off")).length;
    $("counts").textContent =
      reds.length + " replacements, " + shown + " shown | this review: " + acc + " accepted, " + rej + " rejected, " +
      adds.length + " marked, " + listAdds.length + " list term(s)" +
      (D.last_review ? " | last applied review: " + D.last_review.by + " on " + D.last_review.on + (D.approved ? " (approved)" : "") : " | not reviewed yet");
  }

  function buildTypeFilters() {
    const counts = {};
    for (const r of reds) counts[r.ty] = (counts[r.ty] || 0) + 1;
    $("types").replaceChildren(
      h("span", null, ["Types:"]),
      ...Object.keys(counts).sort().map((ty) =>
        h("label", null, [h("input", { type: "checkbox", checked: "", "data-type": ty }), " " + ty + " (" + counts[ty] + ")"])
      )
    );
    $("mark-type").replaceChildren(...D.entity_types.map((ty) => h("option", null, [ty])));
  }

  // ---------------------------------------------------------------- decisions on replacements
  function decide(i, action) {
    if (dec.get(i) === action) dec.delete(i);
    else dec.set(i, action);
    const el = markEls[i];
    if (el) {
      el.classList.remove("d-accept", "d-reject");
      if (dec.has(i)) el.classList.add("d-" + dec.get(i));
    }
    dirty = true;
    applyFilter();
  }

  function nextUndecided() {
    const n = reds.length;
    for (let k = 1; k <= n; k++) {
      const i = (focusIdx + k + n) % n;
      const el = markEls[i];
      if (el && !el.classList.contains("off") && !decided(i) && !segEls[reds[i].g].classList.contains("hide")) {
        if (focusIdx >= 0 && markEls[focusIdx]) markEls[focusIdx].classList.remove("focus");
        focusIdx = i;
        el.classList.add("focus");
        el.scrollIntoView({ block: "center" });
        return;
      }
    }
    say("No undecided replacement among those shown.", "ok");
  }

  // ---------------------------------------------------------------- selection -> offsets
  function boundary(node, off, isStart) {
    const el = node.nodeType === 3 ? node.parentElement : node;
    const seg = el && el.closest ? el.closest(".seg") : null;
    if (!seg) return null;
    const g = +seg.dataset.g;
    if (node.nodeType === 3 && el.hasAttribute("data-o")) return { g, o: +el.dataset.o + off };
    if (node.nodeType === 1 && el.hasAttribute("data-o")) return { g, o: +el.dataset.o + (off > 0 ? el.textContent.length : 0) };
    const range = document.createRange();
    range.setStart(node, off);
    const spans = Array.from(seg.querySelectorAll("[data-o]"));
    if (isStart) {
      for (const sp of spans) if (range.comparePoint(sp, 0) >= 0) return { g, o: +sp.dataset.o };
      return { g, o: segs[g][4].length };
    }
    for (let k = spans.length - 1; k >= 0; k--) {
      const sp = spans[k];
      if (range.comparePoint(sp, sp.childNodes.length) <= 0) return { g, o: +sp.dataset.o + sp.textContent.length };
    }
    return { g, o: 0 };
  }

  function selectedSpan() {
    const sel = window.getSelection();
    if (!sel || sel.rangeCount === 0 || sel.isCollapsed) return { err: "Select some text in the transcript first." };
    const rg = sel.getRangeAt(0);
    const a = boundary(rg.startContainer, rg.startOffset, true);
    const b = boundary(rg.endContainer, rg.endOffset, false);
    if (!a || !b) return { err: "Select text inside the transcript." };
    if (a.g !== b.g) return { err: "Select text within one segment." };
    const t = segs[a.g][4];
    let s = a.o, e = b.o;
    while (s < e && /[\s"'“”‘’(]/.test(t[s])) s++;
    while (e > s && /[\s"'“”‘’),;:!?]/.test(t[e - 1])) e--;
    if (s >= e) return { err: "The selection holds no text." };
    return { g: a.g, s, e, text: t.slice(s, e) };
  }

  // ---------------------------------------------------------------- marking missed spans
  function reEscape(s) {
    return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }

  function occurrences(term) {
    const re = new RegExp("(?<![\\p{L}\\p{N}_])" + reEscape(term) + "(?![\\p{L}\\p{N}_])", "giu");
    const out = [];
    for (let g = 0; g < segs.length; g++) {
      const t = segs[g][4];
      if (t.toLowerCase().indexOf(term.toLowerCase()) < 0) continue;
      re.lastIndex = 0;
      let m;
      while ((m = re.exec(t)) !== null) out.push({ g, s: m.index, e: m.index + m[0].length });
    }
    return out;
  }

  // Returns true when a span was added (or an existing replacement re-accepted).
  function addSpan(g, s, e, ty, explicit) {
    // Already replaced exactly, or inside a replacement the reviewer has not rejected: nothing to add.
    for (const i of bySeg[g]) {
      const r = reds[i];
      if (r.s === s && r.e === e) {
        if (dec.get(i) === "reject") dec.set(i, "accept");
        return explicit;
      }
      if (r.s <= s && e <= r.e && dec.get(i) !== "reject" && !explicit) return false;
    }
    // Grow over overlapping replacements and marks, so what is shown is what will be replaced.
    let grown = true;
    while (grown) {
      grown = false;
      for (const i of bySeg[g]) {
        const r = reds[i];
        if (r.s < e && s < r.e && (r.s < s || r.e > e)) {
          s = Math.min(s, r.s);
          e = Math.max(e, r.e);
          grown = true;
        }
      }
      for (const a of adds) {
        if (a.g === g && a.s < e && s < a.e && (a.s < s || a.e > e)) {
          s = Math.min(s, a.s);
          e = Math.max(e, a.e);
          grown = true;
        }
      }
    }
    adds = adds.filter((a) => !(a.g === g && a.s >= s && a.e <= e));
    const exact = bySeg[g].find((i) => reds[i].s === s && reds[i].e === e);
    if (exact !== undefined) {
      dec.set(exact, "accept");
      return true;
    }
    adds.push({ k: nextKey++, g, seg: segs[g], s, e, ty });
    return true;
  }

  function markSelection() {
    const sp = selectedSpan();
    if (sp.err) return say(sp.err, "err");
    const ty = $("mark-type").value;
    const targets = $("mark-all").checked ? occurrences(sp.text) : [];
    const touched = new Set([sp.g]);
    addSpan(sp.g, sp.s, sp.e, ty, true);
    let n = 1;
    for (const o of targets) {
      if (o.g === sp.g && o.s === sp.s) continue;
      if (addSpan(o.g, o.s, o.e, ty, false)) {
        n++;
        touched.add(o.g);
      }
    }
    if ($("mark-known").checked) addList("known_names", sp.text);
    window.getSelection().removeAllRanges();
    for (const g of touched) renderSeg(g);
    dirty = true;
    applyFilter();
    say("Marked " + n + " occurrence(s) as " + ty + ".", "ok");
  }

  function removeAdd(k) {
    const a = adds.find((x) => x.k === k);
    if (!a) return;
    adds = adds.filter((x) => x.k !== k);
    renderSeg(a.g);
    dirty = true;
    applyFilter();
  }

  // ---------------------------------------------------------------- project lists
  function addList(list, term) {
    term = (term || "").trim();
    if (!term) return say("Type or select a term first.", "err");
    if (term.length > 200 || /\n/.test(term)) return say("A term is one line of at most 200 characters.", "err");
    const other = list === "known_names" ? "allow_list" : "known_names";
    const f = term.toLocaleLowerCase();
    if (listAdds.some((x) => x.list === other && x.term.toLocaleLowerCase() === f))
      return say("That term is already on the other list.", "err");
    if (!listAdds.some((x) => x.list === list && x.term.toLocaleLowerCase() === f)) listAdds.push({ list, term });
    renderListAdds();
    dirty = true;
    updateCounts();
    say("Added to " + (list === "known_names" ? "known names" : "the allow list") + ".", "ok");
  }

  function renderListAdds() {
    $("list-adds").replaceChildren(...listAdds.map((x, n) =>
      h("span", { class: "term" }, [
        (x.list === "known_names" ? "known: " : "allow: ") + x.term + " ",
        h("button", { type: "button", "data-n": n, title: "remove" }, ["\u00d7"]),
      ])
    ));
  }

