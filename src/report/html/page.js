// Details on click, findings that highlight their lanes, a lane filter and zoom.
// Everything works without the script too: tooltips are SVG <title>s, links are anchors.
(function () {
  "use strict";
  var details = document.getElementById("details");
  function titleOf(node) {
    while (node && node !== document) {
      for (var i = 0; node.children && i < node.children.length; i++) {
        if (node.children[i].tagName === "title") return node.children[i].textContent;
      }
      node = node.parentNode;
    }
    return null;
  }
  function highlight(targets) {
    document.querySelectorAll(".hl").forEach(function (e) { e.classList.remove("hl"); });
    var first = null;
    targets.forEach(function (id) {
      var lane = document.getElementById(id);
      if (lane) { lane.classList.add("hl"); first = first || lane; }
    });
    return first;
  }
  document.addEventListener("click", function (e) {
    var item = e.target.closest("li.finding");
    if (item) {
      document.querySelectorAll("li.finding.active").forEach(function (f) { f.classList.remove("active"); });
      item.classList.add("active");
      var first = highlight((item.getAttribute("data-targets") || "").split(" ").filter(Boolean));
      if (e.target.classList.contains("finding-link")) {
        e.preventDefault();
        var one = document.getElementById(e.target.getAttribute("href").slice(1));
        if (one) first = one;
      }
      if (first) first.scrollIntoView({ block: "center", inline: "nearest" });
      details.textContent = item.textContent.trim();
      return;
    }
    if (e.target.closest("svg.swimlanes")) {
      var text = titleOf(e.target);
      if (text) details.textContent = text;
    }
  });
  document.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && e.target.classList && (e.target.classList.contains("lane") || e.target.classList.contains("aggregate"))) {
      details.textContent = titleOf(e.target.firstChild) || "";
    }
  });
  document.getElementById("clear").addEventListener("click", function () {
    highlight([]);
    document.querySelectorAll("li.finding.active").forEach(function (f) { f.classList.remove("active"); });
  });
  var filter = document.getElementById("filter");
  filter.addEventListener("input", function () {
    var q = filter.value.trim().toLowerCase();
    document.querySelectorAll("g.lane").forEach(function (lane) {
      var text = "#" + lane.getAttribute("data-conn") + " " + lane.getAttribute("data-label");
      lane.classList.toggle("dim", q !== "" && text.toLowerCase().indexOf(q) < 0);
    });
  });
  // The charts fit the page; zoom widens them inside their scrolling frame.
  var charts = document.querySelectorAll("svg.swimlanes");
  var zoom = 1;
  document.querySelectorAll("[data-zoom]").forEach(function (button) {
    button.addEventListener("click", function () {
      var f = parseFloat(button.getAttribute("data-zoom"));
      zoom = f === 1 ? 1 : Math.min(8, Math.max(0.25, zoom * f));
      charts.forEach(function (svg) { svg.style.width = (100 * zoom) + "%"; });
    });
  });
  document.body.setAttribute("data-ready", String(document.querySelectorAll("g.lane").length));
  // Milliseconds from navigation to here (parsed, script run): the page's own cost.
  document.body.setAttribute("data-ms", String(Math.round(performance.now())));
})();
