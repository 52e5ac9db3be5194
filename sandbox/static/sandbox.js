// The sandbox page's live part: follow the local Telegram's events and act through the page's
// forms without reloading. Everything it inserts is HTML the server rendered and escaped.
"use strict";

(() => {
  const root = document.documentElement;
  const body = document.body;
  const language = body.dataset.lang;
  const phones = document.getElementById("phones");
  const live = document.querySelector(".live");
  const picker = document.querySelector("form.people");
  const about = document.querySelector("details.about");
  const queues = new Map();
  const timers = new WeakMap();
  const profileTimers = new Map();

  root.classList.add("js");

  const phoneOf = (id) => document.getElementById(`phone-${id}`);
  const itemId = (chatId, messageId) => `m-${chatId}-${messageId}`;
  const nearBottom = (log) => log.scrollHeight - log.scrollTop - log.clientHeight < 64;
  const toBottom = (log) => {
    log.scrollTop = log.scrollHeight;
  };

  function element(html) {
    const template = document.createElement("template");
    template.innerHTML = html.trim();
    return template.content.firstElementChild;
  }

  // One chat's updates are applied in the order the events came in.
  function inOrder(key, job) {
    const next = (queues.get(key) || Promise.resolve()).then(job).catch((error) => {
      console.error(error);
    });
    queues.set(key, next);
    return next;
  }

  function toast(userId, text, isAlert) {
    const phone = phoneOf(userId);
    if (!phone || !text) return;
    const box = phone.querySelector(".toast");
    box.textContent = text;
    box.classList.toggle("alert", Boolean(isAlert));
    clearTimeout(timers.get(box));
    timers.set(
      box,
      setTimeout(() => {
        box.textContent = "";
      }, isAlert ? 15000 : 6000),
    );
  }

  // A person's name and membership change when they join: refresh the header and the picker.
  function refreshProfile(userId) {
    clearTimeout(profileTimers.get(userId));
    profileTimers.set(
      userId,
      setTimeout(async () => {
        const response = await fetch(`/sandbox/users/${userId}/profile?lang=${language}`);
        if (!response.ok) return;
        const profile = await response.json();
        const phone = phoneOf(userId);
        if (phone) {
          phone.querySelector("header h2").textContent = profile.name;
          phone.querySelector("header .details").textContent = profile.details;
        }
        const label = picker.querySelector(`label[data-user="${userId}"]`);
        if (label) {
          label.title = profile.details;
          label.querySelector(".name").textContent = profile.name;
          label.querySelector(".details").textContent = ` – ${profile.details}`;
        }
      }, 300),
    );
  }

  async function showMessage(chatId, messageId, arrived) {
    const phone = phoneOf(chatId);
    if (!phone) return;
    const response = await fetch(
      `/sandbox/users/${chatId}/messages/${messageId}?lang=${language}`,
    );
    if (!response.ok) return;
    const html = await response.text();
    const log = phone.querySelector(".chat");
    const stick = nearBottom(log);
    const old = document.getElementById(itemId(chatId, messageId));
    if (!html.trim()) {
      if (old) old.remove();
      return;
    }
    const item = element(html);
    if (old) {
      if (Number(old.dataset.version) > Number(item.dataset.version)) return;
      const focused = old.contains(document.activeElement) ? document.activeElement : null;
      old.replaceWith(item);
      if (focused) {
        // Keep keyboard users where they were: the same button, or the message's chat.
        const again = focused.value
          ? item.querySelector(`button[value="${CSS.escape(focused.value)}"]`)
          : null;
        (again || log).focus();
      }
    } else {
      const later = [...log.children].find((li) => Number(li.dataset.id) > messageId);
      log.insertBefore(item, later || null);
      if (arrived) item.classList.add("arrived");
    }
    if (stick) toBottom(log);
    if (item.classList.contains("from-bot")) refreshProfile(chatId);
  }

  function listen(after) {
    const source = new EventSource(`/_sim/events/stream?after=${after}`);
    for (const kind of ["message", "edit"]) {
      source.addEventListener(kind, (event) => {
        const data = JSON.parse(event.data);
        const messageId = data.message.message_id;
        inOrder(data.chat_id, () => showMessage(data.chat_id, messageId, kind === "message"));
      });
    }
    source.addEventListener("delete", (event) => {
      const data = JSON.parse(event.data);
      inOrder(data.chat_id, () => {
        const old = document.getElementById(itemId(data.chat_id, data.message_id));
        if (old) old.remove();
      });
    });
    source.addEventListener("callback_answer", (event) => {
      const data = JSON.parse(event.data);
      toast(data.chat_id, data.text, data.show_alert);
    });
    source.addEventListener("open", () => {
      live.textContent = "";
    });
    source.addEventListener("error", () => {
      live.textContent = body.dataset.offline;
    });
  }

  function shownIds() {
    return [...phones.querySelectorAll(".phone")].map((phone) => phone.dataset.user);
  }

  // The address keeps who is shown, so that a reload or a language switch keeps the columns.
  function remember() {
    const show = shownIds().join(",");
    history.replaceState(null, "", `/?lang=${language}&show=${show}`);
    for (const link of document.querySelectorAll(".top nav a")) {
      link.href = `/?lang=${link.hreflang}&show=${show}`;
    }
  }

  async function addPhone(userId, focus) {
    if (phoneOf(userId)) return;
    const response = await fetch(`/sandbox/users/${userId}/phone?lang=${language}`);
    if (!response.ok) return;
    const phone = element(await response.text());
    const boxes = [...picker.querySelectorAll('input[name="show"]')];
    const index = boxes.findIndex((box) => box.value === String(userId));
    const next = boxes.slice(index + 1).map((box) => phoneOf(box.value)).find(Boolean);
    phones.insertBefore(phone, next || null);
    toBottom(phone.querySelector(".chat"));
    remember();
    if (focus) phone.querySelector(".compose textarea").focus();
  }

  function hidePhone(userId) {
    const phone = phoneOf(userId);
    if (phone) phone.remove();
    const box = picker.querySelector(`input[name="show"][value="${userId}"]`);
    if (box) box.checked = false;
    remember();
  }

  function addToPicker(userId, name) {
    const label = document.createElement("label");
    label.dataset.user = String(userId);
    const box = document.createElement("input");
    box.type = "checkbox";
    box.name = "show";
    box.value = String(userId);
    box.checked = true;
    const shown = document.createElement("span");
    shown.className = "name";
    shown.textContent = name;
    const details = document.createElement("span");
    details.className = "details";
    label.append(box, " ", shown, details);
    picker.querySelector(".apply").before(label);
  }

  picker.addEventListener("change", (event) => {
    const box = event.target;
    if (box.name !== "show") return;
    if (box.checked) addPhone(box.value, false);
    else hidePhone(box.value);
  });

  // The command menu changes when someone joins or becomes coordinator: fetch it on opening.
  document.addEventListener(
    "toggle",
    async (event) => {
      const menu = event.target;
      if (!menu.matches || !menu.matches("details.menu") || !menu.open) return;
      const userId = menu.dataset.user;
      const response = await fetch(`/sandbox/users/${userId}/commands?lang=${language}`);
      const list = document.getElementById(`commands-${userId}`);
      if (response.ok && list) list.replaceWith(element(await response.text()));
    },
    true,
  );

  // As in Telegram's desktop apps: Enter sends, Shift+Enter starts a new line.
  document.addEventListener("keydown", (event) => {
    const field = event.target;
    if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
    if (!field.matches || !field.matches(".compose textarea")) return;
    event.preventDefault();
    if (field.value.trim()) field.form.requestSubmit();
  });

  // Browsers without `field-sizing`: the field grows with its lines all the same.
  if (!(window.CSS && CSS.supports("field-sizing", "content"))) {
    document.addEventListener("input", (event) => {
      const field = event.target;
      if (!field.matches || !field.matches(".compose textarea")) return;
      field.style.height = "auto";
      field.style.height = `${field.scrollHeight + 2}px`;
    });
  }

  // The explanation stays folded once folded (on this browser).
  if (about) {
    if (localStorage.getItem("cora-sandbox-about") === "closed") about.open = false;
    about.addEventListener("toggle", () => {
      localStorage.setItem("cora-sandbox-about", about.open ? "open" : "closed");
    });
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-hide]");
    if (button) hidePhone(button.dataset.hide);
  });

  // Sending, pressing buttons and adding people: the same forms, posted without a reload.
  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (form.method.toLowerCase() !== "post") return;
    event.preventDefault();
    if (form.classList.contains("commands") && event.submitter) {
      // A command from the menu goes into the field, to add what it needs after it.
      const phone = form.closest(".phone");
      const field = phone.querySelector(".compose textarea");
      field.value = `${event.submitter.value} `;
      form.closest("details").open = false;
      field.focus();
      return;
    }
    const data = new FormData(form, event.submitter);
    data.set("lang", language);
    const phone = form.closest(".phone");
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: data,
        headers: { Accept: "application/json" },
      });
      const answer = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(answer.error || response.statusText);
      if (form.classList.contains("compose") || form.classList.contains("new-person")) {
        form.reset();
        const field = form.querySelector("textarea");
        if (field) field.style.height = "";
      }
      if (answer.user_id) {
        addToPicker(answer.user_id, answer.first_name);
        await addPhone(answer.user_id, true);
      }
    } catch (error) {
      const message = `${body.dataset.failed} ${error.message}`;
      if (phone) toast(phone.dataset.user, message, true);
      else live.textContent = message;
    }
  });

  for (const log of document.querySelectorAll(".chat")) toBottom(log);
  listen(Number(body.dataset.events));
})();
