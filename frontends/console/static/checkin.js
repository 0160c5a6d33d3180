// Check-in at the door (checkin.html): taps are kept on this phone until the console has them.
//
// A tap toggles a trio at once on the screen and goes into a queue in localStorage; the queue is sent as JSON to
// the page's taps URL and each tap leaves it only once the console has acknowledged its id. A lost answer, a
// dropped network or a closed page loses nothing: the queue is sent again (every few seconds, when the browser
// comes back online, when the page is opened again), and the console counts a tap it has seen before only once.
// Without this script each trio's button posts its own form, which works as well, one page load per tap.
(function () {
  "use strict";
  var root = document.querySelector("[data-checkin]");
  if (!root || !window.fetch || !window.localStorage || !window.JSON) {
    return;
  }
  var key = "werkplaatsen.checkin." + root.getAttribute("data-session");
  var url = root.getAttribute("data-taps");
  var csrf = root.getAttribute("data-csrf");
  var sync = root.querySelector("[data-sync]");
  var count = root.querySelector("[data-count]");
  var recordForm = root.querySelector("form[data-record]");
  var sending = false;
  var marks = {}; // registration_id -> present, as the console last said (or as the page came)

  function load() {
    try {
      var stored = JSON.parse(window.localStorage.getItem(key) || "[]");
      return Array.isArray(stored) ? stored : [];
    } catch (e) {
      return [];
    }
  }

  function store(queue) {
    try {
      window.localStorage.setItem(key, JSON.stringify(queue));
      return true;
    } catch (e) {
      return false;
    }
  }

  function newId() {
    if (window.crypto && window.crypto.randomUUID) {
      return window.crypto.randomUUID();
    }
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function forms() {
    return Array.prototype.slice.call(root.querySelectorAll("form[data-tap]"));
  }

  function field(form, name) {
    return form.querySelector("input[name='" + name + "']");
  }

  // What the screen shows: the console's marks with the taps still on their way on top of them.
  function render() {
    var queue = load();
    var pending = {};
    var shown = {};
    Object.keys(marks).forEach(function (id) { shown[id] = marks[id]; });
    queue.forEach(function (tap) {
      shown[tap.registration_id] = tap.present;
      pending[tap.registration_id] = true;
    });
    var inside = 0;
    forms().forEach(function (form) {
      var id = field(form, "registration_id").value;
      var here = shown[id] === true;
      var button = form.querySelector("button");
      button.setAttribute("aria-pressed", here ? "true" : "false");
      button.classList.toggle("here", here);
      button.classList.toggle("pending", pending[id] === true);
      form.querySelector("[data-state]").textContent = here ? "Binnen" : "Nog niet binnen";
      field(form, "present").value = here ? "0" : "1";
      if (here) {
        inside += 1;
      }
    });
    count.textContent = String(inside);
    if (queue.length === 0) {
      sync.hidden = false;
      sync.className = "sync";
      sync.textContent = "Alle tikken zijn bewaard bij de console.";
    } else {
      sync.hidden = false;
      sync.className = "sync waiting";
      sync.textContent = queue.length === 1
        ? "1 tik wacht nog op verbinding; hij blijft op dit apparaat bewaard."
        : queue.length + " tikken wachten nog op verbinding; ze blijven op dit apparaat bewaard.";
    }
  }

  function say(text) {
    sync.hidden = false;
    sync.className = "sync waiting";
    sync.textContent = text;
  }

  function flush(then) {
    if (sending) {
      if (then) {
        window.setTimeout(function () { flush(then); }, 300); // after the request in flight
      }
      return;
    }
    var queue = load();
    sending = true;
    window.fetch(url, {
      method: "POST",
      credentials: "same-origin",
      redirect: "manual", // a lapsed sign-in answers with a redirect to the login page: keep the taps
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ taps: queue.slice(0, 200) })
    }).then(function (response) {
      if (response.type === "opaqueredirect" || response.status === 401) {
        throw { say: "Je bent uitgelogd. Log opnieuw in en open deze pagina weer; je tikken blijven bewaard." };
      }
      if (response.status === 403) {
        throw { say: "Laad deze pagina opnieuw; je tikken blijven op dit apparaat bewaard." };
      }
      if (response.status === 422) {
        // Taps the console cannot read will never be accepted: drop them rather than block the others.
        var refused = queue.slice(0, 200).map(function (tap) { return tap.tap; });
        store(load().filter(function (tap) { return refused.indexOf(tap.tap) < 0; }));
        throw { say: "Een paar tikken kon de console niet lezen. Controleer de trio's hieronder." };
      }
      if (!response.ok) {
        throw { say: "" }; // the console is busy or away: try again later
      }
      return response.json();
    }).then(function (answer) {
      var received = answer.received || [];
      store(load().filter(function (tap) { return received.indexOf(tap.tap) < 0; }));
      marks = answer.marks || marks;
      sending = false;
      render();
      if (then) {
        then(load().length === 0);
      }
    }).catch(function (problem) {
      // A lost network (the browser's own error) leaves the queue's count on the screen; our reasons replace it.
      sending = false;
      render();
      if (problem && problem.say) {
        say(problem.say);
      }
      if (then) {
        then(false);
      }
    });
  }

  forms().forEach(function (form) {
    var id = field(form, "registration_id").value;
    marks[id] = field(form, "present").value === "0";
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var present = field(form, "present").value === "1";
      var queue = load();
      queue.push({ tap: newId(), registration_id: id, present: present, at: Date.now() });
      if (!store(queue)) {
        // No room on the phone (or private browsing): send this tap the plain way instead, as a tap of its own.
        field(form, "tap").value = newId();
        form.submit();
        return;
      }
      render();
      flush();
    });
  });

  if (recordForm) {
    recordForm.addEventListener("submit", function (event) {
      if (load().length === 0) {
        return;
      }
      // Every tap first, then the attendance: otherwise the console records what it has so far.
      event.preventDefault();
      flush(function (done) {
        if (done) {
          recordForm.submit();
        } else {
          say("Eerst moeten alle tikken bij de console zijn. Controleer de verbinding en probeer het opnieuw.");
        }
      });
    });
  }

  render();
  flush();
  window.addEventListener("online", function () { flush(); });
  // Also how this phone hears of other phones' taps at the same door.
  window.setInterval(function () { flush(); }, 5000);
})();
