// Pigeon console: a little progressive enhancement, no build step, no framework.
// Text from the server is always put in with textContent, never as HTML.
"use strict";

(function () {
  // On a narrow screen the side navigation is one row that scrolls: show the current page.
  const here = document.querySelector("nav.side a.here");
  if (here && window.matchMedia("(max-width: 760px)").matches) {
    here.scrollIntoView({ block: "nearest", inline: "center" });
  }

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

  // Template form: the content rules, checked as you type.
  document.querySelectorAll("form[data-template-form]").forEach(function (form) {
    const list = form.querySelector("[data-template-problems]");
    const preview = form.querySelector("[data-template-preview]");
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

    async function check() {
      const mine = ++sequence;
      const content = field("content");
      showPreview(content);
      if (!content.trim()) { list.textContent = ""; return; }
      const answer = await postJSON(form.dataset.checkUrl, {
        name: field("name"), content: content, type: field("type"), rule: field("rule"),
      });
      if (mine !== sequence) return;  // a newer check is on its way
      list.textContent = "";
      const problems = answer.body.problems || [];
      if (!problems.length) {
        const li = document.createElement("li");
        li.className = "ok";
        li.textContent = "No problem found: the automatic reviewer would accept this content.";
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
    ["content", "type", "rule", "name"].forEach(function (name) {
      const element = form.elements[name];
      if (element) { element.addEventListener("input", later); element.addEventListener("change", later); }
    });
    if (field("content")) check();
  });

  // Qualification form: RequiredPhoneCode.
  document.querySelectorAll("[data-phone-code]").forEach(function (button) {
    const result = document.querySelector("[data-phone-code-result]");
    button.addEventListener("click", async function () {
      const phone = document.getElementById(button.dataset.phoneInput).value;
      button.disabled = true;
      const answer = await postJSON(button.dataset.phoneCode, { phone: phone });
      result.textContent = answer.body.ok ? answer.body.message : answer.body.error;
      result.className = answer.body.ok ? "notice" : "error";
      setTimeout(function () { button.disabled = false; }, answer.body.ok ? 60000 : 1000);
    });
  });

  // Quick start: a skeleton of the chosen template's variables.
  document.querySelectorAll("[data-param-skeletons]").forEach(function (select) {
    const input = document.querySelector("[data-param-input]");
    let last = null;
    function fill() {
      const option = select.options[select.selectedIndex];
      const skeleton = option ? option.dataset.skeleton : "";
      if (!input.value || input.value === last) {
        input.value = skeleton === "{}" ? "" : skeleton;
        last = input.value;
      }
    }
    select.addEventListener("change", fill);
    fill();
  });

  // Quick start: the handsets refresh themselves.
  document.querySelectorAll("[data-inbox-url]").forEach(function (panel) {
    async function refresh() {
      let inboxes;
      try {
        const response = await fetch(panel.dataset.inboxUrl, { credentials: "same-origin" });
        if (!response.ok) return;
        inboxes = await response.json();
      } catch (error) { return; }
      panel.querySelectorAll(".phone").forEach(function (phone) {
        const messages = inboxes[phone.dataset.phone] || [];
        const list = phone.querySelector("ol.sms");
        list.textContent = "";
        if (!messages.length) {
          const li = document.createElement("li");
          li.className = "empty";
          li.textContent = "No message yet.";
          list.appendChild(li);
        }
        messages.forEach(function (m) {
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
    }
    setInterval(refresh, 1500);
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
    async function refresh() {
      const live = await getJSON(table.dataset.liveUrl);
      if (!live) return;
      table.querySelectorAll("tr[data-connector]").forEach(function (row) {
        const state = live[row.dataset.connector];
        if (!state) return;
        row.querySelectorAll("[data-live]").forEach(function (cell) {
          const value = state[cell.dataset.live];
          cell.textContent = value === null || value === undefined ? "" : String(value);
          if (cell.dataset.live === "state") cell.className = "badge " + (badges[value] || "");
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
        li.textContent = "No message yet.";
        list.appendChild(li);
      }
      items.forEach(function (m) {
        const li = document.createElement("li");
        li.className = m.direction;
        li.dataset.key = m.key;
        [["span", "from", (m.direction === "out" ? "to " : "") + m.address], ["span", "text", m.text],
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
