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
