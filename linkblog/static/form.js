// Clicking one of "Your tags" adds it to the tags field. The form works without this script.
document.addEventListener("click", function (event) {
  var chip = event.target.closest && event.target.closest(".tag-chip");
  if (!chip) return;
  var input = document.getElementById("tags");
  var tags = input.value.split(/[\s,]+/).filter(Boolean);
  var tag = chip.getAttribute("data-tag");
  if (tags.indexOf(tag) === -1) tags.push(tag);
  input.value = tags.join(" ") + " ";
  input.focus();
});

// Long fields show how much room is left instead of cutting what is typed or pasted (no maxlength): past the
// limit the counter says by how much, and the server refuses the form with the same numbers.
(function () {
  function count(text) { return Array.from(text.replace(/\r\n/g, "\n").trim()).length; }
  function setUp(field) {
    var limit = parseInt(field.getAttribute("data-maxlength"), 10);
    var counter = document.createElement("p");
    counter.className = "counter";
    counter.id = field.id + "-counter";
    counter.setAttribute("aria-live", "polite");
    field.insertAdjacentElement("afterend", counter);
    field.setAttribute("aria-describedby", ((field.getAttribute("aria-describedby") || "") + " " + counter.id).trim());
    function update() {
      var used = count(field.value), over = used - limit;
      counter.classList.toggle("over", over > 0);
      counter.hidden = used < limit * 0.8 && over <= 0;
      counter.textContent = over > 0
        ? over.toLocaleString() + " characters over the limit of " + limit.toLocaleString() + "; shorten it to save."
        : used.toLocaleString() + " of " + limit.toLocaleString() + " characters";
    }
    field.addEventListener("input", update);
    update();
  }
  function start() { Array.prototype.forEach.call(document.querySelectorAll("[data-maxlength]"), setUp); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
