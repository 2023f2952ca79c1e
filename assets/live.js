// Podium: keeps the page of a debate that is still running up to date.
//
// The page names its event stream and the version of the transcript it
// shows (data-events, data-version on <main id="transcript">). When the
// stream announces a newer version, the page is fetched again from the
// same address and its <main> is put in place of this one: the content
// comes as the server escaped it, parsed by DOMParser (which runs
// nothing), and no text is ever turned into markup here. Where the stream
// cannot be had (the server has too many readers, or an old browser), the
// page is fetched every little while instead. Once the debate is over,
// the page fetched last has no stream, and this stops.
(function () {
  "use strict";

  var POLL = 15000; // ms between fetches without a stream
  var RETRIES = 5; // fetches again while the page is behind its stream
  var AGAIN = 400; // ms between those

  var main = document.getElementById("transcript");
  if (!main || !main.getAttribute("data-events")) {
    return;
  }
  if (!window.fetch || !window.DOMParser) {
    return; // the page refreshes itself without scripts (noscript)
  }
  document.documentElement.classList.add("live-js");

  var shown = main.getAttribute("data-version") || "";
  var wanted = shown; // the newest version the stream announced
  var source = null;
  var fetching = false;
  var queued = false;
  var behind = 0;
  var pollTimer = null;
  var stopped = false;

  function address() {
    return location.href.split("#")[0];
  }

  function stop() {
    stopped = true;
    if (source) {
      source.close();
      source = null;
    }
    if (pollTimer) {
      clearTimeout(pollTimer);
      pollTimer = null;
    }
  }

  // Puts `fresh` (the <main> of the page fetched) in place of the one
  // shown, keeping where the reader is: the same scroll position, or the
  // end of the page for a reader who was following it there.
  function swap(fresh) {
    var old = document.getElementById("transcript");
    if (!old) {
      return;
    }
    var root = document.documentElement;
    var y = window.pageYOffset || root.scrollTop;
    var following = y > 0 && y + window.innerHeight >= root.scrollHeight - 40;
    old.parentNode.replaceChild(document.importNode(fresh, true), old);
    window.scrollTo(window.pageXOffset, following ? root.scrollHeight : y);
  }

  function refresh() {
    if (stopped) {
      return;
    }
    if (fetching) {
      queued = true;
      return;
    }
    fetching = true;
    fetch(address(), {
      cache: "no-cache",
      credentials: "same-origin",
      headers: { Accept: "text/html" },
    })
      .then(function (response) {
        if (!response.ok) {
          throw response.status;
        }
        return response.text();
      })
      .then(function (html) {
        var page = new DOMParser().parseFromString(html, "text/html");
        var fresh = page.getElementById("transcript");
        if (!fresh) {
          return;
        }
        swap(fresh);
        if (!fresh.getAttribute("data-events")) {
          stop(); // over: this is the final page
          return;
        }
        shown = fresh.getAttribute("data-version") || "";
      })
      .catch(function (status) {
        if (status === 404) {
          stop(); // no longer for this reader
        }
      })
      .then(function () {
        fetching = false;
        if (queued) {
          queued = false;
          refresh();
        } else if (!stopped && wanted !== shown && behind < RETRIES) {
          // The server had not caught up with its own news yet.
          behind += 1;
          setTimeout(refresh, AGAIN);
        }
      });
  }

  function announced(version) {
    wanted = version;
    if (version !== shown) {
      behind = 0;
      refresh();
    }
  }

  function poll() {
    pollTimer = null;
    if (stopped) {
      return;
    }
    refresh();
    pollTimer = setTimeout(poll, POLL + Math.random() * 2000);
  }

  function listen() {
    if (stopped) {
      return;
    }
    if (!window.EventSource) {
      poll();
      return;
    }
    source = new EventSource(main.getAttribute("data-events"));
    source.addEventListener("change", function (event) {
      announced(String(event.data));
    });
    source.addEventListener("end", function () {
      source.close();
      source = null;
      refresh();
    });
    source.addEventListener("open", function () {
      if (pollTimer) {
        clearTimeout(pollTimer);
        pollTimer = null;
      }
    });
    source.addEventListener("error", function () {
      // Refused (too many readers) or gone: fetch now and then instead,
      // and try the stream again in a while. A stream that broke off is
      // opened again by the browser itself.
      if (source && source.readyState === EventSource.CLOSED) {
        source = null;
        if (!pollTimer) {
          pollTimer = setTimeout(poll, POLL);
        }
        setTimeout(listen, 4 * POLL + Math.random() * POLL);
      }
    });
  }

  listen();
})();
