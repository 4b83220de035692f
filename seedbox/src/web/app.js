// Progressive enhancement for the patron page: filter the file table of the
// page as you type in its filter box. Without JavaScript the filter form
// submits to the server and works the same.
(function () {
  "use strict";
  var input = document.querySelector("input[data-live]");
  if (!input) { return; }
  var table = document.getElementById(input.getAttribute("data-live"));
  if (!table) { return; }
  var rows = table.querySelectorAll("tbody tr");
  input.addEventListener("input", function () {
    var q = input.value.trim().toLowerCase();
    // A folder heading shows while one of its files does.
    var heading = null, seen = false;
    for (var i = 0; i < rows.length; i++) {
      var row = rows[i];
      if (row.classList.contains("folder")) {
        if (heading) { heading.hidden = !seen; }
        heading = row;
        seen = false;
        continue;
      }
      var text = row.cells[0].textContent.toLowerCase();
      row.hidden = q !== "" && text.indexOf(q) === -1;
      seen = seen || !row.hidden;
    }
    if (heading) { heading.hidden = !seen; }
  });
})();
