// The rich menu under the chat, as the LINE app shows it: a bar with the menu's chatBarText
// that opens and closes the menu image; each tap area runs its action like a quick reply.
(function () {
  const box = document.getElementById("richmenu");
  if (!box) return;
  const bar = document.createElement("button");
  bar.type = "button"; bar.id = "richmenu-bar"; bar.setAttribute("aria-expanded", "false");
  const panel = document.createElement("div");
  panel.id = "richmenu-panel";
  box.append(bar, panel);
  let shown = null, open = false, userShown = null;

  function setOpen(value) {
    open = value; panel.style.display = open ? "block" : "none";
    bar.setAttribute("aria-expanded", String(open));
    bar.textContent = (shown ? shown.menu.chatBarText : "") + (open ? " ▼" : " ▲");
  }
  bar.addEventListener("click", () => setOpen(!open));

  function render(data) {
    panel.textContent = "";
    const m = data.menu;
    const wrap = document.createElement("div");
    wrap.className = "rm-wrap";
    wrap.style.aspectRatio = m.size.width + " / " + m.size.height;
    const img = document.createElement("img");
    img.src = "/_emulator/richmenu-image/" + encodeURIComponent(data.richMenuId);
    img.alt = m.areas.map((a) => a.action.label || "").join(" / ");
    wrap.append(img);
    m.areas.forEach((area, i) => {
      const b = area.bounds, a = area.action;
      const btn = document.createElement("button");
      btn.type = "button"; btn.className = "rm-area"; btn.dataset.testid = "richmenu-area-" + i;
      btn.title = a.label || a.text || ""; btn.setAttribute("aria-label", btn.title);
      btn.style.left = (100 * b.x / m.size.width) + "%"; btn.style.top = (100 * b.y / m.size.height) + "%";
      btn.style.width = (100 * b.width / m.size.width) + "%"; btn.style.height = (100 * b.height / m.size.height) + "%";
      btn.addEventListener("click", () => {
        // LINE's URL scheme for "send location" opens the location sender, as in the app.
        if (a.type === "uri" && a.uri.startsWith("https://line.me/R/nv/location")) window.linesim.runAction({ type: "location" });
        else window.linesim.runAction(a);
      });
      wrap.append(btn);
    });
    panel.append(wrap);
  }

  async function refresh() {
    const user = window.linesim && window.linesim.user();
    if (!user) return;
    try {
      const res = await fetch("/_emulator/richmenu/" + encodeURIComponent(user));
      const data = await res.json();
      if (!data.richMenuId) { shown = null; box.style.display = "none"; return; }
      box.style.display = "block";
      if (!shown || shown.richMenuId !== data.richMenuId || userShown !== user) {
        shown = data; userShown = user; render(data);
        setOpen(Boolean(data.menu.selected) || open);
      }
    } catch (e) { /* simulator restarting */ }
  }
  refresh();
  setInterval(refresh, 1500);
})();
