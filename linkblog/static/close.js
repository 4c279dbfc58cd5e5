// After a save in the bookmarklet window: say so, then close the window (browsers allow it for
// windows that a script opened, which is how the bookmarklet opens this one).
(function () {
  var box = document.getElementById("saved");
  if (!box) return;
  var delay = parseInt(box.getAttribute("data-close-after") || "1200", 10);
  setTimeout(function () { window.close(); }, delay);
})();
