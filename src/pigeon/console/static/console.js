// Pigeon console: a little progressive enhancement, no build step, no framework.
// Text from the server is always put in with textContent, never as HTML.
"use strict";

(function () {
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
