// The parent portal's links carry their token in the URL fragment (never sent to a server):
// move it into the page's form, clear it from the address bar and history, and post it.
(function () {
  "use strict";
  var f = document.getElementById("fragment-form");
  if (!f) { return; }
  var token = window.location.hash.slice(1);
  history.replaceState(null, "", window.location.pathname);
  if (!token) {
    document.getElementById("fragment-wait").textContent = "This link is incomplete. Open it again from the email.";
    return;
  }
  f.elements.token.value = token;
  f.submit();
})();
