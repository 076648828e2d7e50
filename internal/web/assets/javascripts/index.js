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
 * 5. Day details. A node's 90-day bar links to the node's day page. A tap,
 *    a click or Enter on the bar fetches that page instead and shows its
 *    days one at a time in a popover, from the day under the pointer (the
 *    most recent one from the keyboard); Left and Right or the popover's
 *    buttons move between days, Escape or a tap elsewhere closes it. Once
 *    fetched, the days also give the bar its hover text.
 * 6. Folded services. The services a visitor folds or unfolds stay so
 *    across refreshes.
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

  // historyKey identifies the history a page shows: the day pages fetched
  // for it stay true as long as it does not change.
  function historyKey(doc) {
    var meta = doc.querySelector('meta[name="vigil-history"]');

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

    var shownDay = popover ? { href: popover.bar.getAttribute("href"), index: popover.index } : null;

    // The bars are replaced: the popover is shown again below. The days
    // change only with the history: they are fetched anew once it was read
    // again (or when the page does not tell).
    closeDays(false);
    var history = historyKey(doc);

    if (history === null || history !== shownHistory) {
      dayCache = {};
      dayLoaded = {};
    }

    shownHistory = history;

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

    applyFolds();

    window.scrollTo(scrollX, scrollY);

    placeAll();

    if (shownDay) {
      var bar = barByHref(shownDay.href);

      if (bar) {
        openDays(bar, shownDay.index, false);
      }
    }

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

  // Day details (see 4. above).
  var dayCache = {}; // day page href → promise of its days
  var dayLoaded = {}; // day page href → its days, once fetched
  var shownHistory = historyKey(document); // the history the days were fetched for
  var popover = null; // the open popover: { bar, element, days, index }

  function textOf(root, selector) {
    var element = root.querySelector(selector);

    return element ? element.textContent.trim() : "";
  }

  function loadDays(href) {
    if (!dayCache[href]) {
      dayCache[href] = fetch(href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (response) {
          if (!response.ok) {
            throw new Error("unexpected status " + response.status);
          }

          return response.text();
        })
        .then(function (text) {
          var doc = new DOMParser().parseFromString(text, "text/html");
          var days = Array.prototype.map.call(doc.querySelectorAll("ol.days > li"), function (item) {
            return {
              status: item.getAttribute("data-status") || "none",
              word: textOf(item, ".day-state"),
              text: textOf(item, ".day-text")
            };
          });

          dayLoaded[href] = days;

          return days;
        });

      dayCache[href].catch(function () {
        // Fetched again next time.
        delete dayCache[href];
      });
    }

    return dayCache[href];
  }

  function barHost(target) {
    return (target && target.closest) ? target.closest("a.bar") : null;
  }

  function barByHref(href) {
    var bars = document.querySelectorAll("a.bar");

    for (var i = 0; i < bars.length; i++) {
      if (bars[i].getAttribute("href") === href) {
        return bars[i];
      }
    }

    return null;
  }

  // dayAt is the index of the day under a pointer's x, out of count.
  function dayAt(bar, clientX, count) {
    var rect = bar.getBoundingClientRect();
    var index = Math.floor((clientX - rect.left) / rect.width * count);

    return Math.max(0, Math.min(count - 1, index));
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);

    if (className) {
      node.className = className;
    }

    if (text) {
      node.textContent = text;
    }

    return node;
  }

  function buildPopover(bar) {
    var box = element("div", "bar-popover");
    var day = element("p", "bar-popover-day");
    var nav = element("div", "bar-popover-nav");
    var previous = element("button", "bar-popover-previous", "\u2039");
    var next = element("button", "bar-popover-next", "\u203A");
    var all = element("a", "", "All days");

    box.id = "bar-popover";
    box.setAttribute("role", "dialog");
    box.setAttribute("aria-label", "Day details");
    day.setAttribute("aria-live", "polite");
    previous.type = next.type = "button";
    previous.setAttribute("aria-label", "Previous day");
    next.setAttribute("aria-label", "Next day");
    previous.setAttribute("data-step", "-1");
    next.setAttribute("data-step", "1");
    all.href = bar.getAttribute("href");

    day.appendChild(element("i", "day-swatch"));
    day.appendChild(element("span", "bar-popover-state"));
    day.appendChild(element("span", "bar-popover-text"));
    nav.appendChild(previous);
    nav.appendChild(next);
    nav.appendChild(all);
    box.appendChild(day);
    box.appendChild(nav);

    return box;
  }

  function showDay() {
    var day = popover.days[popover.index];
    var box = popover.element;

    box.querySelector(".day-swatch").className = "day-swatch bar-" + day.status;
    box.querySelector(".bar-popover-state").textContent = day.word;
    box.querySelector(".bar-popover-text").textContent = day.text;
    box.querySelector(".bar-popover-previous").disabled = popover.index === 0;
    box.querySelector(".bar-popover-next").disabled = popover.index === popover.days.length - 1;
    placePopover();
  }

  // placePopover puts the popover under its bar (above it when there is no
  // room below), centred on the day shown and inside the viewport. It runs
  // once the popover is in the document, so its size is the real one.
  function placePopover() {
    var box = popover.element;
    var bar = popover.bar.getBoundingClientRect();
    var width = document.documentElement.clientWidth;
    var height = window.innerHeight;

    box.style.left = "0px";
    box.style.top = "0px";

    var origin = box.getBoundingClientRect();
    var size = { width: box.offsetWidth, height: box.offsetHeight };
    var dayX = bar.left + (popover.index + 0.5) * bar.width / popover.days.length;
    var left = Math.max(EDGE_MARGIN, Math.min(width - EDGE_MARGIN - size.width, dayX - size.width / 2));
    var top = bar.bottom + 6;

    if (top + size.height > height - EDGE_MARGIN && bar.top - 6 - size.height >= EDGE_MARGIN) {
      top = bar.top - 6 - size.height;
    }

    box.style.left = Math.round(left - origin.left) + "px";
    box.style.top = Math.round(top - origin.top) + "px";
  }

  // openDays shows the days of bar in a popover. When they cannot be
  // fetched, a visitor who asked (byVisitor) goes to the day page itself;
  // a popover reopened by a refresh just stays closed.
  function openDays(bar, index, byVisitor) {
    var href = bar.getAttribute("href");

    return loadDays(href).then(function (days) {
      if (!days.length || !document.contains(bar)) {
        return;
      }

      closeDays(false);

      var box = buildPopover(bar);

      // Right after the bar, so that Tab goes from the bar to its buttons.
      bar.parentNode.insertBefore(box, bar.nextSibling);
      popover = { bar: bar, element: box, days: days, index: index < 0 ? days.length - 1 : Math.min(index, days.length - 1) };
      bar.setAttribute("aria-expanded", "true");
      bar.setAttribute("aria-controls", box.id);
      showDay();
    }, function () {
      // The popover is a convenience: without it, the day page itself.
      if (byVisitor) {
        window.location.href = href;
      }
    });
  }

  function closeDays(refocus) {
    if (!popover) {
      return;
    }

    var bar = popover.bar;

    if (popover.element.parentNode) {
      popover.element.parentNode.removeChild(popover.element);
    }

    bar.setAttribute("aria-expanded", "false");
    bar.removeAttribute("aria-controls");
    popover = null;

    if (refocus) {
      bar.focus();
    }
  }

  function stepDay(step) {
    var index = Math.max(0, Math.min(popover.days.length - 1, popover.index + step));

    if (index !== popover.index) {
      popover.index = index;
      showDay();
    }
  }

  function bindDays() {
    document.addEventListener("click", function (event) {
      var bar = barHost(event.target);
      var inside = popover && popover.element.contains(event.target);

      if (inside) {
        var button = event.target.closest("button[data-step]");

        if (button) {
          stepDay(parseInt(button.getAttribute("data-step"), 10));
        }

        return;
      }

      if (!bar) {
        closeDays(false);
        return;
      }

      if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) {
        return; // a new tab or window: the day page
      }

      event.preventDefault();

      // A click from the keyboard (Enter) has no pointer position: it opens
      // on the most recent day.
      var fromPointer = event.detail > 0;
      var count = dayLoaded[bar.getAttribute("href")] ? dayLoaded[bar.getAttribute("href")].length : 0;
      var index = fromPointer && count ? dayAt(bar, event.clientX, count) : -1;

      if (popover && popover.bar === bar && (!fromPointer || index === popover.index)) {
        closeDays(false);
        return;
      }

      openDays(bar, index, true).then(function () {
        if (popover && popover.bar === bar && fromPointer && !count) {
          // The days were not known at the click: place it now.
          popover.index = dayAt(bar, event.clientX, popover.days.length);
          showDay();
        }
      });
    });

    document.addEventListener("keydown", function (event) {
      if (!popover) {
        return;
      }

      var within = event.target === popover.bar || popover.element.contains(event.target);

      if (event.key === "Escape" || event.key === "Esc") {
        closeDays(within);
      } else if (within && (event.key === "ArrowLeft" || event.key === "ArrowRight")) {
        event.preventDefault();
        stepDay(event.key === "ArrowLeft" ? -1 : 1);
      } else if (within && (event.key === "Home" || event.key === "End")) {
        event.preventDefault();
        stepDay(event.key === "Home" ? -popover.days.length : popover.days.length);
      }
    });

    // Hover text: the day under the pointer, once the bar's days are known
    // (fetched when the pointer or the focus first reaches the bar).
    var pointer = null; // the bar under the pointer, and the pointer's x

    function hoverText() {
      var days = pointer ? dayLoaded[pointer.bar.getAttribute("href")] : null;

      if (days && days.length) {
        var day = days[dayAt(pointer.bar, pointer.x, days.length)];
        var title = day.word + ", " + day.text;

        if (pointer.bar.title !== title) {
          pointer.bar.title = title;
        }
      }
    }

    document.addEventListener("mouseover", function (event) {
      var bar = barHost(event.target);

      if (bar && !dayLoaded[bar.getAttribute("href")]) {
        pointer = { bar: bar, x: event.clientX };
        loadDays(bar.getAttribute("href")).then(hoverText, function () {});
      }
    });

    document.addEventListener("focusin", function (event) {
      var bar = barHost(event.target);

      if (bar) {
        loadDays(bar.getAttribute("href")).catch(function () {});
      }
    });

    document.addEventListener("mousemove", function (event) {
      var bar = barHost(event.target);

      pointer = bar ? { bar: bar, x: event.clientX } : null;
      hoverText();
    });

    window.addEventListener("resize", function () {
      if (popover) {
        placePopover();
      }
    });
  }

  // Folded services (see 5. above): what the visitor chose, by element id.
  // Only a click on a service's summary (or Enter or Space on it, which
  // click it) counts; a link inside the summary does not fold.
  var folds = {};

  function bindFolds() {
    document.addEventListener("click", function (event) {
      var summary = (event.target && event.target.closest) ? event.target.closest("details.probe-nodes > summary") : null;

      if (!summary || event.target.closest("a")) {
        return;
      }

      var details = summary.parentNode;

      if (details.id) {
        // Read before the default action toggles it.
        folds[details.id] = !details.open;
      }
    });
  }

  function applyFolds() {
    Object.keys(folds).forEach(function (id) {
      var details = document.getElementById(id);

      if (details && details.open !== folds[id]) {
        details.open = folds[id];
      }
    });
  }

  function start() {
    var resizeTimer = null;

    lastKey = renderKey(document);

    bindTooltips();
    bindDays();
    bindFolds();
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
