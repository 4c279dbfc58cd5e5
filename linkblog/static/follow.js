// The follow box: a copy button for the handle and the Follow dialog. Without this script the handle is
// plain text to select and Follow is a link to the /follow page with the same form.
(function () {
  function say(button, text) {
    var status = button.parentNode.querySelector(".copied");
    if (status) { status.textContent = text; setTimeout(function () { status.textContent = ""; }, 2500); }
  }
  function selectText(button) {
    var code = button.parentNode.querySelector("code");
    if (!code || !window.getSelection) return false;
    var range = document.createRange();
    range.selectNodeContents(code);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    return true;
  }
  Array.prototype.forEach.call(document.querySelectorAll("button[data-copy]"), function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var text = button.getAttribute("data-copy");
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(function () { say(button, "Copied"); },
          function () { say(button, selectText(button) ? "Selected: press Ctrl+C or ⌘C" : ""); });
      } else {
        say(button, selectText(button) ? "Selected: press Ctrl+C or ⌘C" : "");
      }
    });
  });
  var remembered = "linkblog-follow-server";
  Array.prototype.forEach.call(document.querySelectorAll("a[data-follow-dialog]"), function (link) {
    var dialog = document.getElementById(link.getAttribute("data-follow-dialog"));
    if (!dialog || typeof dialog.showModal !== "function") return;  // old browsers follow the link
    var input = dialog.querySelector("input[name=server]");
    link.addEventListener("click", function (event) {
      event.preventDefault();
      try { if (input && !input.value) input.value = localStorage.getItem(remembered) || ""; } catch (e) {}
      dialog.showModal();
      if (input) input.focus();
    });
    dialog.addEventListener("click", function (event) {
      if (event.target === dialog) dialog.close();  // a click on the backdrop
    });
    var form = dialog.querySelector("form.follow-form");
    if (form && input) form.addEventListener("submit", function () {
      try { localStorage.setItem(remembered, input.value.trim()); } catch (e) {}
    });
  });
})();
