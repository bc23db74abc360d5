// Submits the SAML response form as soon as the page loads; the button
// stays for browsers without JavaScript.
document.addEventListener("DOMContentLoaded", function () {
  var f = document.getElementById("saml-post");
  if (f) { f.submit(); }
});
