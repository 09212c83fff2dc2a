// Pigeon console: a little progressive enhancement, no build step, no framework.
// Text from the server is always put in with textContent, never as HTML.
"use strict";

(function () {
  // On a narrow screen the side navigation is one row that scrolls: show the current page.
  const here = document.querySelector("nav.side a.here");
  if (here && window.matchMedia("(max-width: 760px)").matches) {
    here.scrollIntoView({ block: "nearest", inline: "center" });
  }

  // A wide table scrolls inside its card: keyboard users reach it (and scroll it) too.
  function focusableWhenScrolling() {
    document.querySelectorAll(".table-wrap").forEach(function (wrap) {
      if (wrap.scrollWidth > wrap.clientWidth) {
        wrap.tabIndex = 0;
        if (!wrap.hasAttribute("role")) wrap.setAttribute("role", "region");
        const section = wrap.closest("section");
        const title = wrap.querySelector("caption") || (section && section.querySelector("h2")) ||
          document.querySelector("main h1");
        if (title && !wrap.hasAttribute("aria-label")) wrap.setAttribute("aria-label", title.textContent.trim());
      } else {
        wrap.removeAttribute("tabindex");
      }
    });
  }
  focusableWhenScrolling();
  window.addEventListener("resize", focusableWhenScrolling);

  const meta = document.querySelector('meta[name="csrf-token"]');
  const csrf = meta ? meta.content : "";

  async function postJSON(url, body) {
    const response = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: await response.json() };
  }

  function debounce(fn, ms) {
    let timer = null;
    return function () { clearTimeout(timer); timer = setTimeout(fn, ms); };
  }

  // Template form: the content rules checked as you type, one field per variable with its
  // attribute chosen from a list, and the message's length and segments with the signature.
  document.querySelectorAll("form[data-template-form]").forEach(function (form) {
    const list = form.querySelector("[data-template-problems]");
    const preview = form.querySelector("[data-template-preview]");
    const length = form.querySelector("[data-template-length]");
    const rows = form.querySelector("[data-variable-rows]");
    const none = form.querySelector("[data-no-variable]");
    const rowTemplate = form.querySelector("template[data-variable-template]");
    const field = function (name) { return form.elements[name] ? form.elements[name].value : ""; };
    let sequence = 0;

    function showPreview(content) {
      preview.textContent = "";
      content.split(/(\$\{[^}]*\})/).forEach(function (part, index) {
        if (!part) return;
        if (index % 2) {
          const mark = document.createElement("mark");
          mark.className = "var";
          mark.textContent = part;
          preview.appendChild(mark);
        } else {
          preview.appendChild(document.createTextNode(part));
        }
      });
    }

    function rule() {
      const chosen = {};
      rows.querySelectorAll("[data-variable]").forEach(function (row) {
        const select = row.querySelector("select");
        if (select && select.value) chosen[row.dataset.variable] = select.value;
      });
      return chosen;
    }

    // One row per variable of the content, in order; a row keeps its choice while its
    // variable stays.
    function showVariables(names) {
      const existing = {};
      rows.querySelectorAll("[data-variable]").forEach(function (row) { existing[row.dataset.variable] = row; });
      const wanted = [];
      names.forEach(function (name) {
        let row = existing[name];
        if (!row && rowTemplate) {
          const fragment = rowTemplate.content.cloneNode(true);
          row = fragment.querySelector("[data-variable]");
          row.dataset.variable = name;
          row.querySelector(".var-name").textContent = "${" + name + "}";
          row.querySelector("select").name = "attr." + name;
          row.querySelector("select").addEventListener("change", later);
        }
        if (row) wanted.push(row);
      });
      rows.textContent = "";
      wanted.forEach(function (row) { rows.appendChild(row); });
      if (none) none.hidden = wanted.length > 0;
    }

    async function check() {
      const mine = ++sequence;
      const content = field("content");
      showPreview(content);
      if (!content.trim()) { list.textContent = ""; if (length) length.textContent = ""; return; }
      const answer = await postJSON(form.dataset.checkUrl, {
        name: field("name"), content: content, type: field("type"), rule: rule(),
        sign: field("related_sign_name"),
      });
      if (mine !== sequence) return;  // a newer check is on its way
      showVariables(answer.body.variables || []);
      if (length && answer.body.length) length.textContent = answer.body.length.text;
      list.textContent = "";
      const problems = answer.body.problems || [];
      if (!problems.length) {
        const li = document.createElement("li");
        li.className = "ok";
        li.textContent = form.dataset.okText;
        list.appendChild(li);
      }
      problems.forEach(function (text) {
        const li = document.createElement("li");
        li.textContent = text;
        list.appendChild(li);
      });
      form.dataset.checked = String(sequence);
    }

    const later = debounce(check, 250);
    ["content", "type", "name", "related_sign_name"].forEach(function (name) {
      const element = form.elements[name];
      if (element) { element.addEventListener("input", later); element.addEventListener("change", later); }
    });
    rows.querySelectorAll("select").forEach(function (select) { select.addEventListener("change", later); });
    if (field("content")) check();
  });

  // Qualification form: RequiredPhoneCode, and the simulator's handset that received it.
  document.querySelectorAll("[data-phone-code]").forEach(function (button) {
    const result = document.querySelector("[data-phone-code-result]");
    const handset = document.querySelector("[data-phone-code-handset]");
    button.addEventListener("click", async function () {
      const phone = document.getElementById(button.dataset.phoneInput).value;
      button.disabled = true;
      const answer = await postJSON(button.dataset.phoneCode, { phone: phone });
      result.textContent = answer.body.ok ? answer.body.message : answer.body.error;
      result.className = answer.body.ok ? "notice" : "error";
      if (handset && answer.body.ok && answer.body.handset) {
        handset.querySelector("[data-handset-number]").textContent = answer.body.phone;
        handset.querySelector("[data-handset-text]").textContent = answer.body.handset;
        handset.hidden = false;
      }
      setTimeout(function () { button.disabled = false; }, answer.body.ok ? 60000 : 1000);
    });
  });

  // A validity range: "long-term" needs no last day.
  document.querySelectorAll("[data-range]").forEach(function (range) {
    const box = range.querySelector("[data-long-term]");
    const end = range.querySelector("[data-range-end]");
    function sync() { end.disabled = box.checked; end.required = !box.checked; }
    box.addEventListener("change", sync);
    sync();
  });

  // Quick start: only the chosen template's variables are shown (and sent).
  document.querySelectorAll("[data-template-select]").forEach(function (select) {
    const form = select.form;
    function show() {
      form.querySelectorAll("[data-template-vars]").forEach(function (set) {
        const chosen = set.dataset.templateVars === select.value;
        set.hidden = !chosen;
        set.disabled = !chosen;
      });
    }
    select.addEventListener("change", show);
    show();
  });

  // Quick start: the handsets and the test messages' states refresh themselves.
  document.querySelectorAll("[data-inbox-url]").forEach(function (panel) {
    const empty = panel.dataset.emptyText;
    const messages = document.querySelector("[data-test-messages]");
    async function refresh() {
      let answer;
      try {
        const response = await fetch(panel.dataset.inboxUrl, { credentials: "same-origin" });
        if (!response.ok) return;
        answer = await response.json();
      } catch (error) { return; }
      const inboxes = answer.inboxes || {};
      panel.querySelectorAll(".phone").forEach(function (phone) {
        const items = inboxes[phone.dataset.phone] || [];
        const list = phone.querySelector("ol.sms");
        list.textContent = "";
        if (!items.length) {
          const li = document.createElement("li");
          li.className = "empty";
          li.textContent = empty;
          list.appendChild(li);
        }
        items.forEach(function (m) {
          const li = document.createElement("li");
          [["span", "from", m.sender], ["span", "text", m.text], ["time", "", m.received_at]]
            .forEach(function (part) {
              const node = document.createElement(part[0]);
              if (part[1]) node.className = part[1];
              node.textContent = part[2];
              li.appendChild(node);
            });
          list.appendChild(li);
        });
      });
      if (messages) showMessages(messages, answer.messages || []);
    }
    setInterval(refresh, 1500);
  });

  function cell(tr, text, className) {
    const td = document.createElement("td");
    if (className) td.dataset.test = className;
    if (text) td.textContent = text;
    tr.appendChild(td);
    return td;
  }

  function showMessages(container, items) {
    if (!items.length) return;  // the page's own text says there is none yet
    const rows = items.map(function (m) {
      const tr = document.createElement("tr");
      tr.dataset.bizId = m.biz_id;
      cell(tr, m.at); cell(tr, m.phone); cell(tr, m.template_code);
      const status = cell(tr, "", "test-status");
      const badge = document.createElement("span");
      badge.className = "badge " + m.kind;
      badge.textContent = m.status_text;
      status.appendChild(badge);
      const error = cell(tr, "", "test-error");
      if (m.err_code) { const code = document.createElement("code"); code.textContent = m.err_code; error.appendChild(code); }
      const link = document.createElement("a");
      link.href = m.record;
      link.textContent = container.dataset.recordText;
      cell(tr, "").appendChild(link);
      return tr;
    });
    let body = container.querySelector("tbody");
    if (!body) {
      container.textContent = "";
      const wrap = document.createElement("div");
      wrap.className = "table-wrap";
      const table = document.createElement("table");
      table.dataset.test = "test-messages";
      const head = document.querySelector("template[data-test-messages-head]");
      if (head) table.appendChild(head.content.cloneNode(true));
      body = document.createElement("tbody");
      table.appendChild(body);
      wrap.appendChild(table);
      container.appendChild(wrap);
    }
    body.textContent = "";
    rows.forEach(function (tr) { body.appendChild(tr); });
  }

  // Copy buttons: the value to the clipboard, and a word that it worked.
  const copied = document.body.dataset.copiedText || "Copied";
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.addEventListener("click", async function () {
      const text = button.dataset.copy;
      try {
        await navigator.clipboard.writeText(text);
      } catch (error) {  // no clipboard API (plain http to another host): the old way
        const area = document.createElement("textarea");
        area.value = text;
        area.setAttribute("readonly", "");
        area.className = "visually-hidden";
        document.body.appendChild(area);
        area.select();
        document.execCommand("copy");
        area.remove();
      }
      const before = button.textContent;
      button.textContent = copied;
      button.classList.add("done");
      setTimeout(function () { button.textContent = before; button.classList.remove("done"); }, 1500);
    });
  });

  // Tabs: one panel shown at a time (all of them without script); the address's #panel picks.
  document.querySelectorAll("[data-tabs]").forEach(function (tabs) {
    const own = function (selector) {
      return Array.from(tabs.querySelectorAll(selector)).filter(function (node) {
        return node.closest("[data-tabs]") === tabs;
      });
    };
    const links = own("[data-tab]");
    const panels = own("[data-tab-panel]");
    function select(id, focus) {
      links.forEach(function (link) {
        const chosen = link.getAttribute("aria-controls") === id;
        link.setAttribute("aria-selected", chosen ? "true" : "false");
        link.tabIndex = chosen ? 0 : -1;
        if (chosen && focus) link.focus();
      });
      panels.forEach(function (panel) { panel.hidden = panel.id !== id; });
    }
    links.forEach(function (link, index) {
      link.addEventListener("click", function (event) {
        event.preventDefault();
        select(link.getAttribute("aria-controls"));
        history.replaceState(null, "", "#" + link.getAttribute("aria-controls"));
      });
      link.addEventListener("keydown", function (event) {
        const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
        if (!step) return;
        const next = links[(index + step + links.length) % links.length];
        select(next.getAttribute("aria-controls"), true);
      });
    });
    const wanted = location.hash.slice(1);
    const inside = panels.find(function (panel) { return panel.id === wanted || panel.querySelector("#" + CSS.escape(wanted || "none")); });
    select(inside ? inside.id : links[0].getAttribute("aria-controls"));
  });
})();

// -- Operator console (/ops): live connector state and handset conversations ----------------
(function () {
  async function getJSON(url) {
    try {
      const response = await fetch(url, { credentials: "same-origin" });
      return response.ok ? await response.json() : null;
    } catch (error) { return null; }
  }

  // Connectors: the live columns follow what the dispatchers report.
  document.querySelectorAll("[data-live-url]").forEach(function (table) {
    const badges = { "up": "ok", "down": "bad", "not running": "wait" };
    const texts = JSON.parse(table.dataset.stateTexts || "{}");
    async function refresh() {
      const live = await getJSON(table.dataset.liveUrl);
      if (!live) return;
      table.querySelectorAll("tr[data-connector]").forEach(function (row) {
        const state = live[row.dataset.connector];
        if (!state) return;
        row.querySelectorAll("[data-live]").forEach(function (cell) {
          const value = state[cell.dataset.live];
          cell.textContent = value === null || value === undefined ? "" : String(value);
          if (cell.dataset.live === "state") {
            cell.className = "badge " + (badges[value] || "");
            cell.textContent = texts[value] || String(value);
          }
        });
      });
    }
    setInterval(refresh, 2000);
  });

  // A handset's conversation: newest at the bottom, new messages as they arrive.
  document.querySelectorAll("[data-conversation-url]").forEach(function (phone) {
    const list = phone.querySelector("ol.sms");
    const keys = function () {
      return Array.from(list.querySelectorAll("li[data-key]")).map(function (li) { return li.dataset.key; }).join(",");
    };
    list.scrollTop = list.scrollHeight;
    async function refresh() {
      const items = await getJSON(phone.dataset.conversationUrl);
      if (!items || items.map(function (m) { return m.key; }).join(",") === keys()) return;
      list.textContent = "";
      if (!items.length) {
        const li = document.createElement("li");
        li.className = "empty";
        li.textContent = phone.dataset.emptyText;
        list.appendChild(li);
      }
      items.forEach(function (m) {
        const li = document.createElement("li");
        li.className = m.direction;
        li.dataset.key = m.key;
        [["span", "from", (m.direction === "out" ? phone.dataset.toText : "") + m.address], ["span", "text", m.text],
         ["time", "", m.at]].forEach(function (part) {
          const node = document.createElement(part[0]);
          if (part[1]) node.className = part[1];
          node.textContent = part[2];
          li.appendChild(node);
        });
        list.appendChild(li);
      });
      list.scrollTop = list.scrollHeight;
    }
    setInterval(refresh, 1500);
  });
})();

// -- Batch Sending (console/batch.py) -------------------------------------------------------
(function () {
  // Upload form: the chosen template's columns and the link to its sample CSV.
  document.querySelectorAll("[data-sample-select]").forEach(function (select) {
    const link = document.querySelector("[data-sample-link]");
    const columns = document.querySelector("[data-sample-columns]");
    function update() {
      const option = select.options[select.selectedIndex];
      if (!option) return;
      if (link) link.href = link.dataset.base + encodeURIComponent(option.value);
      if (columns) columns.textContent = option.dataset.columns || "PhoneNumber";
    }
    select.addEventListener("change", update);
    update();
  });

  // Progress: the counts refresh until the batch is done or cancelled.
  document.querySelectorAll("[data-batch-progress]").forEach(function (panel) {
    const bar = panel.querySelector("[data-progress-bar]");
    let timer = null;
    async function refresh() {
      let state;
      try {
        const response = await fetch(panel.dataset.batchProgress, { credentials: "same-origin" });
        if (!response.ok) return;
        state = await response.json();
      } catch (error) { return; }
      panel.querySelectorAll("[data-progress]").forEach(function (node) {
        const value = state[node.dataset.progress];
        if (value !== undefined && value !== null) node.textContent = String(value);
      });
      if (bar) { bar.value = state.percent; bar.textContent = state.percent + " %"; }
      const badge = document.querySelector("[data-test=status] .badge");
      if (badge) { badge.textContent = state.status_text; badge.className = "badge " + (state.status_kind || ""); }
      panel.dataset.status = state.status;
      if (state.finished) {
        panel.querySelectorAll("[data-while-running]").forEach(function (node) { node.hidden = true; });
        // Delivery receipts still arrive after the last row is sent: slow down, then stop.
        if (!state.waiting) { clearInterval(timer); panel.dataset.finished = "true"; }
      }
    }
    timer = setInterval(refresh, 1500);
    refresh();
  });
})();

// -- Contacts, Alerts & protection, Platform alerts (console/alerts_pages.py) ---------------
(function () {
  // The add-rule form shows the parameters of the kind chosen (all of them without script).
  document.querySelectorAll("select[data-rule-kind]").forEach(function (select) {
    const form = select.form;
    function show() {
      form.querySelectorAll("[data-rule-params]").forEach(function (set) {
        set.hidden = set.dataset.ruleParams !== select.value;
      });
    }
    select.addEventListener("change", show);
    show();
  });
  // The add-channel form asks for a URL and a secret only for DingTalk and webhooks.
  document.querySelectorAll("select[data-channel-kind]").forEach(function (select) {
    const form = select.form;
    function show() {
      form.querySelectorAll("[data-for-kinds]").forEach(function (node) {
        node.hidden = node.dataset.forKinds.split(" ").indexOf(select.value) < 0;
      });
    }
    select.addEventListener("change", show);
    show();
  });
  // A test notification waits for the mail server, the robot or the webhook: say so.
  document.querySelectorAll("form[data-busy]").forEach(function (form) {
    form.addEventListener("submit", function () {
      const button = form.querySelector("button[type=submit]");
      if (button) { button.disabled = true; button.textContent = form.dataset.busy; }
    });
  });
})();
