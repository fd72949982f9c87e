/* Wiring and start-up. */
  // ---------------------------------------------------------------- wiring
  function wire() {
    $("transcript").addEventListener("click", (ev) => {
      const p = ev.target.closest("button[data-p]");
      if (p) {
        const g = +p.closest(".seg").dataset.g;
        return p.dataset.p === "play" ? playSeg(g) : openEditor(g);
      }
      const b = ev.target.closest("button[data-a]");
      if (!b) return;
      const m = b.closest("mark");
      if (b.dataset.a === "remove") return removeAdd(+m.dataset.add);
      decide(+m.dataset.r, b.dataset.a);
    });
    $("transcript").addEventListener("mouseup", () => {
      const sp = selectedSpan();
      if (!sp.err) $("term").value = sp.text;
    });
    for (const id of ["score-min", "score-max"]) $(id).addEventListener("input", applyFilter);
    for (const id of ["flagged-only", "undecided-only", "compact"]) $(id).addEventListener("change", applyFilter);
    $("types").addEventListener("change", applyFilter);
    $("next").addEventListener("click", nextUndecided);
    $("accept-shown").addEventListener("click", () => {
      markEls.forEach((el, i) => {
        if (el && !el.classList.contains("off") && !decided(i) && !segEls[reds[i].g].classList.contains("hide")) {
          dec.set(i, "accept");
          el.classList.add("d-accept");
        }
      });
      dirty = true;
      applyFilter();
    });
    $("mark-btn").addEventListener("mousedown", (ev) => ev.preventDefault()); // keep the selection
    $("mark-btn").addEventListener("click", markSelection);
    $("add-known").addEventListener("click", () => addList("known_names", $("term").value));
    $("add-allow").addEventListener("click", () => addList("allow_list", $("term").value));
    $("list-adds").addEventListener("click", (ev) => {
      const b = ev.target.closest("button[data-n]");
      if (!b) return;
      listAdds.splice(+b.dataset.n, 1);
      renderListAdds();
      updateCounts();
    });
    $("download").addEventListener("click", download);
    $("load").addEventListener("change", (ev) => {
      if (ev.target.files[0]) resume(ev.target.files[0]);
      ev.target.value = ""; // the same file can be chosen again
    });
    document.addEventListener("keydown", (ev) => {
      if (ev.target.closest("input, select, textarea") || ev.ctrlKey || ev.metaKey || ev.altKey) return;
      if (playerKey(ev)) return;
      if (ev.key === "n") nextUndecided();
      else if ((ev.key === "a" || ev.key === "r") && focusIdx >= 0) decide(focusIdx, ev.key === "a" ? "accept" : "reject");
    });
    $("approve").addEventListener("change", () => (dirty = true));
    window.addEventListener("beforeunload", (ev) => {
      if (dirty) {
        ev.preventDefault();
        ev.returnValue = "";
      }
    });
  }

  $("title").textContent = "Review: " + D.interview_id + " (" + segs.length + " segments)";
  buildTypeFilters();
  renderAll();
  wire();
  wirePlayer();
  applyFilter();
  performance.mark("review-ready");
  window.reviewApp = { applyFilter, decisionsObject, seekTo, playSeg, readyMs: performance.now() };
  document.documentElement.dataset.ready = "1";
  // Two animation frames later the first layout and paint of the transcript are done.
  requestAnimationFrame(() => requestAnimationFrame(() => performance.mark("review-painted")));
