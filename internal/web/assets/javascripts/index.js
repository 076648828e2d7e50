/*
 * Vigil: status page behaviour.
 *
 * 1. Live refresh. Every 10 seconds the page asks the server for itself with
 *    `cache: "no-cache"`: the browser revalidates with the page's ETag, so an
 *    unchanged page costs a 304. When the page changed, the new <aside> and
 *    <main> replace the old ones in place, so every change shows (a replica,
 *    a node, an announcement, the "refreshed" time), not only a change of
 *    the general status. Failures are ignored and retried on the next cycle.
 * 2. Relative times. <time data-relative> elements hold an absolute time
 *    rendered by the server; they are shown as "12 s ago" here, so the server
 *    can keep serving one cached page per state.
 * 3. Tooltips. CSS shows them on hover and focus; taps toggle them on touch
 *    screens, Escape closes them, and they are nudged to stay on screen.
 * 4. Announcements. When a refresh changes the page's general status, the
 *    new banner text is written into a polite live region, so screen readers
 *    say it without moving the visitor's focus.
 */
(function () {
  "use strict";

  var REFRESH_INTERVAL = 10000;
  var REQUEST_TIMEOUT = 5000;
  var EDGE_MARGIN = 8;
  // The gap between a tooltip and its box: .tooltip's bottom (or top) offset
  // beyond 100% in common.css.
  var TOOLTIP_GAP = 10;

  // Server time minus local time, learnt from the Date header, so that
  // "12 s ago" does not depend on the visitor's clock being right.
  var clockOffset = 0;
  var lastKey = null;
  var timer = null;
  var inFlight = false;

  function renderKey(doc) {
    var meta = doc.querySelector('meta[name="vigil-render"]');

    return meta ? meta.getAttribute("content") : null;
  }

  function learnClock(dateHeader) {
    var server = dateHeader ? Date.parse(dateHeader) : NaN;

    if (isNaN(server)) {
      return;
    }

    var offset = server - Date.now();

    // The Date header has a one-second resolution: ignore small differences.
    clockOffset = Math.abs(offset) > 2000 ? offset : 0;
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(refresh, REFRESH_INTERVAL);
  }

  function refresh() {
    if (inFlight) {
      return;
    }

    if (document.hidden) {
      // Refreshed as soon as the page becomes visible again.
      schedule();
      return;
    }

    inFlight = true;

    var controller = typeof AbortController === "function" ? new AbortController() : null;
    var abortTimer = setTimeout(function () {
      if (controller) {
        controller.abort();
      }
    }, REQUEST_TIMEOUT);

    fetch(window.location.pathname, {
      cache: "no-cache",
      credentials: "same-origin",
      headers: { "Accept": "text/html" },
      signal: controller ? controller.signal : undefined
    })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("unexpected status " + response.status);
        }

        learnClock(response.headers.get("Date"));

        var etag = response.headers.get("ETag");

        return response.text().then(function (text) {
          return { text: text, etag: etag };
        });
      })
      .then(function (page) {
        apply(page.text, page.etag);
      })
      .catch(function () {
        // Ignored: the next cycle tries again.
      })
      .then(function () {
        clearTimeout(abortTimer);
        inFlight = false;
        schedule();
      });
  }

  function apply(text, etag) {
    var doc = new DOMParser().parseFromString(text, "text/html");
    var key = renderKey(doc) || etag || text;

    if (key === lastKey) {
      return;
    }

    if (swap(doc)) {
      lastKey = key;
    }
  }

  function swap(doc) {
    var oldMain = document.querySelector("main");
    var newMain = doc.querySelector("main");

    if (!oldMain || !newMain) {
      return false;
    }

    var oldAside = document.querySelector("aside");
    var newAside = doc.querySelector("aside");
    var statusBefore = window.STATUS_GENERAL;

    // Remember what the visitor is looking at, to restore it after the swap.
    var scrollX = window.pageXOffset;
    var scrollY = window.pageYOffset;
    var active = document.activeElement;
    var activeId = (active && active.id && (oldMain.contains(active) || (oldAside && oldAside.contains(active)))) ? active.id : null;
    var openIds = [];

    Array.prototype.forEach.call(document.querySelectorAll(".has-tooltip.is-open"), function (element) {
      if (element.id) {
        openIds.push(element.id);
      }
    });

    if (oldAside && newAside) {
      oldAside.parentNode.replaceChild(document.importNode(newAside, true), oldAside);
    }

    oldMain.parentNode.replaceChild(document.importNode(newMain, true), oldMain);

    openIds.forEach(function (id) {
      var element = document.getElementById(id);

      if (element) {
        element.classList.add("is-open");
      }
    });

    if (activeId) {
      var focused = document.getElementById(activeId);

      if (focused) {
        try {
          focused.focus({ preventScroll: true });
        } catch (error) {
          focused.focus();
        }
      }
    }

    window.scrollTo(scrollX, scrollY);

    placeAll();

    openIds.concat(activeId ? [activeId] : []).forEach(function (id) {
      var element = document.getElementById(id);

      if (element && element.classList.contains("has-tooltip")) {
        place(element);
      }
    });

    updateGeneral(newAside);
    updateIcons(doc);
    updateRelativeTimes();

    if (window.STATUS_GENERAL !== statusBefore) {
      announceStatus(newAside);
    }

    return true;
  }

  function announceStatus(aside) {
    var region = document.getElementById("status-announcer");
    var title = aside ? aside.querySelector("h1") : null;

    if (region && title) {
      region.textContent = "Status changed: " + title.textContent.trim() + ".";
    }
  }

  function updateGeneral(aside) {
    if (!aside) {
      return;
    }

    var status = aside.getAttribute("data-status");

    if (!status) {
      var match = /status-(healthy|sick|dead)-background/.exec(aside.className || "");

      status = match ? match[1] : null;
    }

    if (status) {
      window.STATUS_GENERAL = status;
    }
  }

  function updateIcons(doc) {
    var fresh = doc.querySelectorAll('link[rel~="icon"]');
    var current = document.querySelectorAll('link[rel~="icon"]');

    for (var i = 0; i < fresh.length && i < current.length; i++) {
      var href = fresh[i].getAttribute("href");

      if (href && current[i].getAttribute("href") !== href) {
        current[i].setAttribute("href", href);
      }
    }
  }

  function relative(seconds) {
    if (seconds < 60) {
      return seconds + " s ago";
    }

    var minutes = Math.floor(seconds / 60);

    if (minutes < 60) {
      return minutes + " min ago";
    }

    var hours = Math.floor(minutes / 60);

    if (hours < 48) {
      return hours + " h ago";
    }

    return Math.floor(hours / 24) + " d ago";
  }

  function updateRelativeTimes() {
    var now = Date.now() + clockOffset;

    Array.prototype.forEach.call(document.querySelectorAll("time[data-relative]"), function (element) {
      var at = Date.parse(element.getAttribute("datetime"));

      if (isNaN(at)) {
        return;
      }

      if (!element.title) {
        // Keep the absolute time at hand.
        element.title = element.textContent;
      }

      var text = relative(Math.max(0, Math.round((now - at) / 1000)));

      if (element.textContent !== text) {
        element.textContent = text;
      }
    });
  }

  // Keeps tooltips inside the viewport: shifted sideways near the edges
  // (computed for all of them at once, so they are right before they show),
  // and flipped below their box when there is no room above (computed when
  // one is about to show, as it depends on the scroll position).
  //
  // A tooltip's own rectangle is not measured: it slides in with a CSS
  // transition of its transform, so while the transition runs the rectangle
  // is where the animation has it, not where it will rest. Its resting place
  // follows from layout alone: centred over its box, at its laid-out size.
  function restingBox(host, tooltip) {
    var box = host.getBoundingClientRect();
    var width = tooltip.offsetWidth;
    var center = box.left + box.width / 2;

    return {
      left: center - width / 2,
      right: center + width / 2,
      top: box.top - TOOLTIP_GAP - tooltip.offsetHeight
    };
  }

  function horizontalShift(rect, width) {
    if (rect.left < EDGE_MARGIN) {
      return EDGE_MARGIN - rect.left;
    }

    if (rect.right > width - EDGE_MARGIN) {
      return width - EDGE_MARGIN - rect.right;
    }

    return 0;
  }

  function setShift(tooltip, shift) {
    if (shift !== 0) {
      tooltip.style.setProperty("--tooltip-shift", Math.round(shift) + "px");
    } else {
      tooltip.style.removeProperty("--tooltip-shift");
    }
  }

  function placeAll() {
    var tooltips = document.querySelectorAll(".has-tooltip > .tooltip");
    var width = document.documentElement.clientWidth;

    // Measure everything, then write: one layout.
    var boxes = Array.prototype.map.call(tooltips, function (tooltip) {
      return restingBox(tooltip.parentNode, tooltip);
    });

    boxes.forEach(function (box, i) {
      setShift(tooltips[i], horizontalShift(box, width));
    });
  }

  function place(host) {
    var tooltip = host.querySelector(".tooltip");

    if (!tooltip) {
      return;
    }

    var box = restingBox(host, tooltip);

    setShift(tooltip, horizontalShift(box, document.documentElement.clientWidth));
    tooltip.classList.toggle("tooltip-below", box.top < EDGE_MARGIN);
  }

  function tooltipHost(target) {
    return (target && target.closest) ? target.closest(".has-tooltip") : null;
  }

  function closeAll(except) {
    Array.prototype.forEach.call(document.querySelectorAll(".has-tooltip.is-open"), function (element) {
      if (element !== except) {
        element.classList.remove("is-open");
      }
    });
  }

  function bindTooltips() {
    document.addEventListener("mouseover", function (event) {
      var host = tooltipHost(event.target);

      if (host && !host.contains(event.relatedTarget)) {
        place(host);
      }
    });

    document.addEventListener("focusin", function (event) {
      var host = tooltipHost(event.target);

      if (host) {
        place(host);
      }
    });

    // Touch screens have no hover: a tap toggles the tooltip, a tap
    // elsewhere closes it.
    document.addEventListener("click", function (event) {
      var host = tooltipHost(event.target);

      if (host && host.querySelector(".tooltip").contains(event.target)) {
        return;
      }

      closeAll(host);

      if (host) {
        host.classList.toggle("is-open");
        place(host);
      }
    });

    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" || event.key === "Esc") {
        var host = tooltipHost(document.activeElement);

        closeAll(null);

        if (host) {
          host.blur();
        }
      } else if ((event.key === "Enter" || event.key === " ") && tooltipHost(event.target) === event.target) {
        event.preventDefault();
        closeAll(event.target);
        event.target.classList.toggle("is-open");
        place(event.target);
      }
    });
  }

  function start() {
    var resizeTimer = null;

    lastKey = renderKey(document);

    bindTooltips();
    placeAll();
    updateRelativeTimes();

    window.addEventListener("resize", function () {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(placeAll, 100);
    });

    setInterval(updateRelativeTimes, 1000);

    document.addEventListener("visibilitychange", function () {
      if (!document.hidden) {
        refresh();
      }
    });

    schedule();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
