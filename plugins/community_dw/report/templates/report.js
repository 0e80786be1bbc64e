// community-dw report: switch the map's precomputed colouring, show hover tooltips, draw the inline charts.
(function () {
  "use strict";
  var dataElement = document.getElementById("map-data");
  var mapData = dataElement ? JSON.parse(dataElement.textContent) : null;
  var select = document.getElementById("vaccine-select");
  var tooltip = document.getElementById("tooltip");

  function setTitleLine(path, line) {
    var title = path.querySelector("title");
    if (!title) return;
    var parts = title.textContent.split("\n\n");
    title.textContent = parts[0] + "\n\n" + line;
  }

  function applySelection(key) {
    if (!mapData || !mapData.colourings[key]) return;
    var colouring = mapData.colourings[key];
    document.querySelectorAll("#grids path.grid").forEach(function (path) {
      var entry = colouring[path.dataset.grid];
      if (!entry) return;
      path.setAttribute("class", "grid c" + entry[0]);
      setTitleLine(path, entry[1]);
    });
    var bins = mapData.bins[key] || [];
    document.querySelectorAll("#legend-classes tr[data-class]").forEach(function (row) {
      var cls = parseInt(row.dataset.class, 10);
      var index = cls >= 0 ? cls : bins.length + cls; // -1: no eligible people, -2: suppressed
      row.querySelector('[data-field="grids"]').textContent = bins[index] === undefined ? 0 : bins[index];
    });
    var totals = mapData.totals[key];
    var box = document.getElementById("legend-totals");
    if (box && totals) {
      box.dataset.key = key;
      if (totals.people === null) { delete box.dataset.people; } else { box.dataset.people = totals.people; }
      if (totals.complete === null) { delete box.dataset.complete; } else { box.dataset.complete = totals.complete; }
      box.querySelector('[data-field="people"]').textContent = totals.people_text;
      box.querySelector('[data-field="any"]').textContent = totals.any_text;
      box.querySelector('[data-field="complete"]').textContent = totals.complete_text;
      box.querySelector('[data-field="complete_rate"]').textContent = totals.complete_rate_text;
    }
  }

  if (select) {
    select.addEventListener("change", function () { applySelection(select.value); });
  }

  // A tooltip that follows the pointer (the <title> stays for keyboard and no-JS readers).
  document.querySelectorAll("#grids path.grid, #buildings circle, #facilities rect").forEach(function (el) {
    var title = el.querySelector("title");
    if (!title) return;
    el.addEventListener("mousemove", function (event) {
      tooltip.textContent = title.textContent;
      tooltip.style.display = "block";
      tooltip.style.left = (event.clientX + 14) + "px";
      tooltip.style.top = (event.clientY + 14) + "px";
    });
    el.addEventListener("mouseleave", function () { tooltip.style.display = "none"; });
  });

  // Charts: Vega-Lite specs rendered by the inlined vega-embed; nothing is fetched.
  if (typeof vegaEmbed === "function") {
    document.querySelectorAll("script.chart-spec").forEach(function (element) {
      var spec = JSON.parse(element.textContent);
      vegaEmbed("#" + element.dataset.target, spec, { actions: false, renderer: "svg" })
        .catch(function (error) { document.getElementById(element.dataset.target).textContent = String(error); });
    });
  }
})();
