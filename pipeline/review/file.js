/* The decisions file: build it, download it, check and resume one (as apply-review checks it). */
  // ---------------------------------------------------------------- the decisions file
  function decisionsObject() {
    const out = [];
    for (const [i, action] of dec) out.push({ action, id: reds[i].id });
    for (const a of adds) {
      const t = segs[a.g][4];
      out.push({ action: "add", segment_id: segs[a.g][0], start: toCp(t, a.s), end: toCp(t, a.e), text: t.slice(a.s, a.e), entity_type: a.ty });
    }
    return {
      format: "interview-pipeline/review-decisions",
      version: 2,
      interview_id: D.interview_id,
      state_sha256: D.state_sha256,
      reviewer: $("reviewer").value.trim(),
      created: new Date().toISOString(),
      decisions: out,
      list_additions: listAdds.slice(),
      corrections: correctionGroups(),
      approved: $("approve").checked,
    };
  }

  function download() {
    const obj = decisionsObject();
    if (!obj.reviewer) {
      $("reviewer").focus();
      return say("Enter your name as reviewer before downloading.", "err");
    }
    const blob = new Blob([JSON.stringify(obj, null, 1) + "\n"], { type: "application/json" });
    const url = URL.createObjectURL(blob);
    const a = document.createElement("a");
    a.href = url;
    a.download = "decisions-" + D.interview_id + ".json";
    a.id = "dl";
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
    dirty = false;
    say("Downloaded " + obj.decisions.length + " decision(s). Apply with: interview-pipeline apply-review OUT " + a.download, "ok");
  }

  // The same checks as `apply-review` (pipeline/review/decisions.py): a file that fails any of them
  // is refused whole and changes nothing on the page. Messages name the problem, never a value.
  const TOP_KEYS = ["format", "version", "interview_id", "state_sha256", "reviewer", "created", "decisions", "list_additions", "corrections", "approved"];
  const isInt = (v) => Number.isInteger(v);
  const isObj = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
  const keysIn = (o, allowed) => Object.keys(o).every((k) => allowed.includes(k));

  function checkDecisions(obj) {
    if (!isObj(obj) || obj.format !== "interview-pipeline/review-decisions") return { err: "That is not a review decisions file." };
    if (obj.version !== 1 && obj.version !== 2) return { err: "Unsupported decisions file version." };
    if (!keysIn(obj, obj.version === 1 ? TOP_KEYS.slice(0, 8) : TOP_KEYS)) return { err: "The decisions file has unknown keys." };
    if (obj.interview_id !== D.interview_id) return { err: "That decisions file is for another interview." };
    if (obj.state_sha256 !== D.state_sha256) return { err: "That decisions file was made against an older state of this interview." };
    if (obj.reviewer !== undefined && (typeof obj.reviewer !== "string" || obj.reviewer.length > 200))
      return { err: "The reviewer name in that file is malformed." };
    const items = obj.decisions === undefined ? [] : obj.decisions;
    const lists = obj.list_additions === undefined ? [] : obj.list_additions;
    if (!Array.isArray(items) || !Array.isArray(lists)) return { err: "'decisions' and 'list_additions' must be lists." };
    if (obj.approved !== undefined && typeof obj.approved !== "boolean") return { err: "'approved' must be true or false." };
    const corr = obj.corrections === undefined ? [] : obj.corrections;
    const cerr = checkCorrections(corr);
    if (cerr) return { err: cerr };
    const fixed = withCorrections(corr);
    const replaced = new Set(corr.flatMap((c) => c.replaces));
    const byId = new Map(reds.map((r, i) => [r.id, i]).filter(([, i]) => !replaced.has(D.segments[reds[i].g0][0])));
    const segIndex = new Map(fixed.segs.map((s, g) => [s[0], g]));
    const out = { dec: new Map(), adds: [], listAdds: [], reviewer: obj.reviewer || "", fixed, approved: obj.approved === true };
    const seen = new Set();
    for (let n = 0; n < items.length; n++) {
      const d = items[n], where = "Decision " + (n + 1) + ": ";
      if (!isObj(d) || !["accept", "reject", "add"].includes(d.action)) return { err: where + "unknown action." };
      let span;
      if (d.action !== "add") {
        if (!keysIn(d, ["action", "id"]) || typeof d.id !== "string" || !byId.has(d.id)) return { err: where + "unknown replacement id." };
        out.dec.set(byId.get(d.id), d.action);
        span = d.id;
      } else {
        if (!keysIn(d, ["action", "segment_id", "start", "end", "text", "entity_type"])) return { err: where + "unknown keys." };
        if (!isInt(d.segment_id) || !isInt(d.start) || !isInt(d.end) || typeof d.text !== "string")
          return { err: where + "'add' needs integer segment_id, start, end and the text." };
        const g = segIndex.get(d.segment_id);
        if (g === undefined) return { err: where + "unknown segment id." };
        const t = fixed.segs[g][4], cps = Array.from(t).length;
        if (!(0 <= d.start && d.start < d.end && d.end <= cps)) return { err: where + "offsets out of range." };
        const s = toU16(t, d.start), e = toU16(t, d.end);
        if (t.slice(s, e) !== d.text) return { err: where + "offsets do not match the segment text." };
        if (!D.entity_types.includes(d.entity_type)) return { err: where + "unknown entity type." };
        out.adds.push({ k: nextKey++, g, seg: fixed.segs[g], s, e, ty: d.entity_type });
        span = d.segment_id + ":" + d.start + ":" + d.end;
      }
      if (seen.has(span)) return { err: where + "a second decision for the same span." };
      seen.add(span);
    }
    for (let n = 0; n < lists.length; n++) {
      const a = lists[n], where = "List addition " + (n + 1) + ": ";
      if (!isObj(a) || Object.keys(a).length !== 2 || !keysIn(a, ["list", "term"])) return { err: where + "needs exactly 'list' and 'term'." };
      if (a.list !== "known_names" && a.list !== "allow_list") return { err: where + "unknown list." };
      const term = typeof a.term === "string" ? a.term.trim() : "";
      if (!term || term.length > 200 || term.includes("\n")) return { err: where + "a term is one line of 1-200 characters." };
      const f = term.toLocaleLowerCase();
      if (out.listAdds.some((x) => x.list !== a.list && x.term.toLocaleLowerCase() === f)) return { err: where + "a term cannot be on both lists." };
      if (!out.listAdds.some((x) => x.list === a.list && x.term.toLocaleLowerCase() === f)) out.listAdds.push({ list: a.list, term });
    }
    return out;
  }

  function resume(file) {
    const fr = new FileReader();
    fr.onload = () => {
      let obj;
      try {
        obj = JSON.parse(fr.result);
      } catch (e) {
        return say("That file is not valid JSON.", "err");
      }
      const got = checkDecisions(obj);
      if (got.err) return say("Not resumed: " + got.err, "err");
      segs = got.fixed.segs;
      deletedIds = got.fixed.deleted;
      nextSegId = got.fixed.next;
      dec.clear();
      adds = [];
      reindex();
      for (const [i, a] of got.dec) dec.set(i, a);
      adds = got.adds;
      $("approve").checked = got.approved;
      listAdds = got.listAdds;
      if (got.reviewer) $("reviewer").value = got.reviewer;
      renderAll();
      renderListAdds();
      applyFilter();
      updateCorrCount();
      say("Resumed " + (got.dec.size + got.adds.length) + " decision(s).", "ok");
    };
    fr.readAsText(file);
  }

