// An independent SAML 2.0 service provider for Headwater's end-to-end tests.
//
// It is node-saml (the library behind passport-saml) on node's own http
// server, so what it accepts is what a real Node application would accept.
// Go tests start it as a child process (internal/samltest.StartSP):
//
//   node sp.js CONFIG.json
//
// It listens on 127.0.0.1 and a free port and prints one JSON line on stdout
// once it is listening: {"baseURL", "port", "entityID"}. Every request is
// logged as one line on stderr.
//
// Endpoints: /metadata, /login, /acs, /last, /logout, /slo, /last-logout.
"use strict";

const fs = require("fs");
const http = require("http");
const querystring = require("querystring");
const zlib = require("zlib");
const { SAML } = require("@node-saml/node-saml");

const HTTP_REDIRECT = "HTTP-Redirect";
const HTTP_POST = "HTTP-POST";
const MAX_BODY = 4 << 20;

function loadConfig() {
  const path = process.argv[2] || process.env.SAMLTEST_SP_CONFIG;
  if (!path) {
    throw new Error("usage: node sp.js CONFIG.json (or set SAMLTEST_SP_CONFIG)");
  }
  const cfg = JSON.parse(fs.readFileSync(path, "utf8"));
  if (!cfg.idpSSOURL) throw new Error(`${path}: idpSSOURL is required`);
  if (!Array.isArray(cfg.idpCerts) || cfg.idpCerts.length === 0) {
    throw new Error(`${path}: idpCerts needs at least one PEM certificate`);
  }
  const binding = cfg.authnRequestBinding || HTTP_REDIRECT;
  if (binding !== HTTP_REDIRECT && binding !== HTTP_POST) {
    throw new Error(`${path}: authnRequestBinding must be ${HTTP_REDIRECT} or ${HTTP_POST}, not ${binding}`);
  }
  if (cfg.signRequests && (!cfg.privateKeyPEM || !cfg.certPEM)) {
    throw new Error(`${path}: signRequests needs privateKeyPEM and certPEM`);
  }
  return { ...cfg, authnRequestBinding: binding };
}

// samlOptions maps our config onto node-saml's options. Anything left out
// keeps node-saml's default, because the point is to behave like a stock
// node-saml application.
function samlOptions(cfg, baseURL, entityID) {
  const opts = {
    entryPoint: cfg.idpSSOURL,
    logoutUrl: cfg.idpSLOURL || undefined,
    idpCert: cfg.idpCerts,
    issuer: entityID,
    audience: entityID,
    callbackUrl: `${baseURL}/acs`,
    logoutCallbackUrl: `${baseURL}/slo`,
    identifierFormat: cfg.nameIDFormat ? cfg.nameIDFormat : null,
    forceAuthn: Boolean(cfg.forceAuthn),
    passive: Boolean(cfg.isPassive),
    authnRequestBinding: cfg.authnRequestBinding,
    // Both default to true, as in node-saml.
    wantAssertionsSigned: cfg.wantAssertionsSigned !== false,
    wantAuthnResponseSigned: cfg.wantAuthnResponseSigned !== false,
    // "always": an SP-initiated response must answer a request this SP sent.
    // "ifPresent": a response without InResponseTo (IdP-initiated) is fine too.
    validateInResponseTo: cfg.allowIdPInitiated ? "ifPresent" : "always",
    acceptedClockSkewMs: Number.isInteger(cfg.acceptedClockSkewMs) ? cfg.acceptedClockSkewMs : 0,
    disableRequestedAuthnContext: Boolean(cfg.disableRequestedAuthnContext),
  };
  if (Array.isArray(cfg.authnContext) && cfg.authnContext.length > 0) {
    opts.authnContext = cfg.authnContext;
  }
  if (cfg.idpIssuer) {
    opts.idpIssuer = cfg.idpIssuer;
  }
  if (cfg.signRequests) {
    opts.privateKey = cfg.privateKeyPEM;
    opts.publicCert = cfg.certPEM;
    opts.signatureAlgorithm = cfg.signatureAlgorithm || "sha256";
    opts.digestAlgorithm = opts.signatureAlgorithm;
  }
  return opts;
}

function metadataXML(saml, cfg, baseURL) {
  let xml = saml.generateServiceProviderMetadata(null, cfg.signRequests ? cfg.certPEM : null);
  // node-saml lists /slo for HTTP-POST only; it serves HTTP-Redirect as well.
  const post = `<SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="${baseURL}/slo"/>`;
  const redirect = `<SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${baseURL}/slo"/>`;
  if (xml.includes(post)) {
    xml = xml.replace(post, `${post}\n    ${redirect}`);
  }
  return xml;
}

function escapeHTML(s) {
  return String(s)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

function page(title, body) {
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>${escapeHTML(title)}</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #999;padding:.3em .6em;text-align:left}.err{color:#a00}</style>
</head><body><h1>${escapeHTML(title)}</h1>
${body}
</body></html>`;
}

// attributeValues turns node-saml's attribute values (a string, an array,
// or an object for structured values) into a list of strings.
function attributeValues(v) {
  const list = Array.isArray(v) ? v : [v];
  return list.map((x) => {
    if (x === null || x === undefined) return "";
    if (typeof x === "object") return JSON.stringify(x);
    return String(x);
  });
}

function resultFromProfile(profile) {
  const attributes = {};
  for (const [name, v] of Object.entries(profile.attributes || {})) {
    attributes[name] = attributeValues(v);
  }
  return {
    nameID: profile.nameID || "",
    nameIDFormat: profile.nameIDFormat || "",
    nameQualifier: profile.nameQualifier || "",
    spNameQualifier: profile.spNameQualifier || "",
    sessionIndex: profile.sessionIndex || "",
    issuer: profile.issuer || "",
    inResponseTo: profile.inResponseTo || "",
    attributes,
  };
}

// topStatusCode returns the first StatusCode Value in a SAML message: the
// top-level one, since nested codes come after it in document order.
function topStatusCode(xml) {
  const m = /<(?:[A-Za-z0-9_.-]+:)?StatusCode\b[^>]*\bValue="([^"]*)"/.exec(xml);
  return m ? m[1] : "";
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on("data", (c) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error("request body too large"));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function send(res, status, type, body, headers) {
  res.writeHead(status, { "Content-Type": type, "Cache-Control": "no-store", ...(headers || {}) });
  res.end(body);
}

function sendJSON(res, status, value) {
  send(res, status, "application/json", JSON.stringify(value));
}

function redirect(res, location) {
  res.writeHead(302, { Location: location, "Cache-Control": "no-store" });
  res.end();
}

function main() {
  const cfg = loadConfig();
  // State of this one SP: the last /acs result, the last SLO result, and the
  // session (profile) a successful login left, which /logout ends.
  const state = { last: null, lastLogout: null, session: null };
  let saml = null;
  // postAuthn makes the HTTP-POST AuthnRequest form. node-saml deflates
  // that request too unless skipRequestCompression is set, which the
  // bindings spec does not allow (passport-saml issue #241); but the same
  // switch would also stop the deflating that HTTP-Redirect requires, so
  // the POST form gets an instance of its own, sharing the request-ID
  // cache so that InResponseTo checks still work.
  let postAuthn = null;
  let metadata = "";

  async function handleLogin(req, res, url) {
    const relayState = url.searchParams.get("RelayState") || "";
    if (cfg.authnRequestBinding === HTTP_POST) {
      const form = await postAuthn.getAuthorizeFormAsync(relayState);
      send(res, 200, "text/html; charset=utf-8", form);
      return;
    }
    redirect(res, await saml.getAuthorizeUrlAsync(relayState, undefined, {}));
  }

  async function handleACS(req, res) {
    const form = querystring.parse(await readBody(req));
    const samlResponse = typeof form.SAMLResponse === "string" ? form.SAMLResponse : "";
    const relayState = typeof form.RelayState === "string" ? form.RelayState : "";
    const raw = Buffer.from(samlResponse, "base64");
    const result = {
      ok: false,
      error: "",
      nameID: "",
      nameIDFormat: "",
      nameQualifier: "",
      spNameQualifier: "",
      sessionIndex: "",
      issuer: "",
      inResponseTo: "",
      relayState,
      attributes: {},
      rawResponse: raw.toString("base64"),
      receivedAt: new Date().toISOString(),
    };
    try {
      if (!samlResponse) throw new Error("no SAMLResponse in the POST body");
      const { profile } = await saml.validatePostResponseAsync({ SAMLResponse: samlResponse });
      if (!profile) throw new Error("the response carries no assertion (NoPassive?)");
      Object.assign(result, resultFromProfile(profile), { ok: true });
      state.session = profile;
    } catch (err) {
      result.error = err && err.message ? err.message : String(err);
      process.stderr.write(`acs: ${result.error}\n`);
    }
    state.last = result;
    if (!result.ok) {
      send(res, 403, "text/html; charset=utf-8",
        page("SAML login failed", `<p class="err" id="error">${escapeHTML(result.error)}</p>`));
      return;
    }
    const rows = Object.entries(result.attributes)
      .map(([k, v]) => `<tr><td>${escapeHTML(k)}</td><td>${v.map(escapeHTML).join("<br>")}</td></tr>`)
      .join("\n");
    send(res, 200, "text/html; charset=utf-8", page("SAML login succeeded", `
<p>NameID: <b id="nameid">${escapeHTML(result.nameID)}</b></p>
<p>NameID format: <span id="nameid-format">${escapeHTML(result.nameIDFormat)}</span></p>
<p>Session index: <span id="session-index">${escapeHTML(result.sessionIndex)}</span></p>
<p>Issuer: <span id="issuer">${escapeHTML(result.issuer)}</span></p>
<p>RelayState: <span id="relay-state">${escapeHTML(result.relayState)}</span></p>
<table id="attributes"><tr><th>Attribute</th><th>Values</th></tr>
${rows}
</table>
<p><a href="/logout">Log out</a></p>`));
  }

  async function handleLogout(req, res, url) {
    if (!cfg.idpSLOURL) {
      send(res, 409, "text/plain", "no IdP SLO URL is configured for this SP\n");
      return;
    }
    if (!state.session) {
      send(res, 409, "text/plain", "no session to log out: log in through /login first\n");
      return;
    }
    const relayState = url.searchParams.get("RelayState") || "";
    redirect(res, await saml.getLogoutUrlAsync(state.session, relayState, {}));
  }

  // handleSLO takes a LogoutResponse (the end of /logout) or a LogoutRequest
  // (IdP-initiated logout, answered with a LogoutResponse by redirect), in
  // either binding.
  async function handleSLO(req, res, url) {
    let message = {};
    let binding = HTTP_REDIRECT;
    let originalQuery = "";
    if (req.method === "POST") {
      binding = HTTP_POST;
      message = querystring.parse(await readBody(req));
    } else {
      originalQuery = url.search.replace(/^\?/, "");
      message = querystring.parse(originalQuery);
    }
    const kind = message.SAMLRequest ? "LogoutRequest" : message.SAMLResponse ? "LogoutResponse" : "";
    const result = {
      ok: false,
      error: "",
      kind,
      binding,
      signed: false,
      status: "",
      nameID: "",
      sessionIndex: "",
      issuer: "",
      relayState: typeof message.RelayState === "string" ? message.RelayState : "",
      raw: "",
      receivedAt: new Date().toISOString(),
    };
    let answer = null;
    try {
      if (!kind) throw new Error("neither SAMLRequest nor SAMLResponse was given");
      const encoded = kind === "LogoutRequest" ? message.SAMLRequest : message.SAMLResponse;
      let xml;
      if (binding === HTTP_REDIRECT) {
        xml = zlib.inflateRawSync(Buffer.from(encoded, "base64")).toString("utf8");
        result.signed = typeof message.Signature === "string" && message.Signature !== "";
      } else {
        xml = Buffer.from(encoded, "base64").toString("utf8");
        result.signed = /<(?:[A-Za-z0-9_.-]+:)?Signature[\s>]/.test(xml);
      }
      result.raw = Buffer.from(xml, "utf8").toString("base64");
      result.status = kind === "LogoutResponse" ? topStatusCode(xml) : "";
      let out;
      if (binding === HTTP_REDIRECT) {
        out = await saml.validateRedirectAsync(message, originalQuery);
      } else if (kind === "LogoutRequest") {
        out = await saml.validatePostRequestAsync({ SAMLRequest: encoded });
      } else {
        out = await saml.validatePostResponseAsync({ SAMLResponse: encoded });
      }
      // node-saml checks the status of a LogoutResponse only in the
      // redirect binding; check it here for both.
      if (kind === "LogoutResponse" && result.status !== "urn:oasis:names:tc:SAML:2.0:status:Success") {
        throw new Error(`LogoutResponse status is ${result.status || "missing"}`);
      }
      if (kind === "LogoutRequest" && out.profile) {
        result.nameID = out.profile.nameID || "";
        result.sessionIndex = out.profile.sessionIndex || "";
        result.issuer = out.profile.issuer || "";
        answer = out.profile;
      }
      result.ok = true;
      state.session = null;
    } catch (err) {
      result.error = err && err.message ? err.message : String(err);
      process.stderr.write(`slo: ${err && err.stack ? err.stack : err}\n`);
    }
    state.lastLogout = result;
    if (answer && cfg.idpSLOURL) {
      redirect(res, await saml.getLogoutResponseUrlAsync(answer, result.relayState, {}, true));
      return;
    }
    if (!result.ok) {
      send(res, 403, "text/html; charset=utf-8",
        page("SAML logout failed", `<p class="err" id="error">${escapeHTML(result.error)}</p>`));
      return;
    }
    send(res, 200, "text/html; charset=utf-8", page("SAML logout succeeded", `<p id="logged-out">Logged out.</p>`));
  }

  async function route(req, res) {
    const url = new URL(req.url, "http://127.0.0.1");
    switch (url.pathname) {
      case "/":
        send(res, 200, "text/html; charset=utf-8", page("samltest SP", `
<p>Entity ID: <span id="entity-id">${escapeHTML(saml.options.issuer)}</span></p>
<p><a href="/login">Log in</a> · <a href="/logout">Log out</a> · <a href="/metadata">Metadata</a> · <a href="/last">Last result</a></p>`));
        return;
      case "/metadata":
        send(res, 200, "application/samlmetadata+xml", metadata);
        return;
      case "/login":
        await handleLogin(req, res, url);
        return;
      case "/acs":
        if (req.method !== "POST") {
          send(res, 405, "text/plain", "the ACS takes HTTP-POST only\n", { Allow: "POST" });
          return;
        }
        await handleACS(req, res);
        return;
      case "/last":
        if (!state.last) {
          sendJSON(res, 404, { error: "no SAML response has reached /acs yet" });
          return;
        }
        sendJSON(res, 200, state.last);
        return;
      case "/logout":
        await handleLogout(req, res, url);
        return;
      case "/slo":
        await handleSLO(req, res, url);
        return;
      case "/last-logout":
        if (!state.lastLogout) {
          sendJSON(res, 404, { error: "no logout message has reached /slo yet" });
          return;
        }
        sendJSON(res, 200, state.lastLogout);
        return;
      default:
        send(res, 404, "text/plain", "not found\n");
    }
  }

  const server = http.createServer((req, res) => {
    res.on("finish", () => process.stderr.write(`${req.method} ${req.url.split("?")[0]} ${res.statusCode}\n`));
    route(req, res).catch((err) => {
      process.stderr.write(`error: ${err && err.stack ? err.stack : err}\n`);
      if (!res.headersSent) send(res, 500, "text/plain", `${err && err.message ? err.message : err}\n`);
      else res.end();
    });
  });

  server.listen(0, "127.0.0.1", () => {
    const port = server.address().port;
    const baseURL = `http://127.0.0.1:${port}`;
    const entityID = cfg.entityID || `${baseURL}/metadata`;
    const opts = samlOptions(cfg, baseURL, entityID);
    saml = new SAML(opts);
    postAuthn = new SAML({
      ...opts,
      skipRequestCompression: !cfg.deflatePostRequest,
      cacheProvider: saml.cacheProvider,
    });
    metadata = metadataXML(saml, cfg, baseURL);
    process.stdout.write(JSON.stringify({ baseURL, port, entityID }) + "\n");
  });

  // The Go side holds stdin open; when it goes away (even by a crash), so do we.
  if (cfg.exitOnStdinClose) {
    process.stdin.on("end", () => process.exit(0));
    process.stdin.on("error", () => process.exit(0));
    process.stdin.resume();
  }
  process.on("SIGTERM", () => process.exit(0));
}

try {
  main();
} catch (err) {
  process.stderr.write(`sp.js: ${err && err.message ? err.message : err}\n`);
  process.exit(2);
}
