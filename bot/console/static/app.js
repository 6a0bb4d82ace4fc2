/* tweetdrip console: signs every request with Telegram's init data, uses Telegram's theme
   colours, and lets htmx fetch the server-rendered views.

   Telegram's own script (telegram-web-app.js) is not loaded: everything is served by the bot
   and nothing comes from elsewhere at run time. When a page has it (window.Telegram.WebApp),
   its init data and theme are used; otherwise they are read from the URL fragment Telegram
   passes to every Mini App (#tgWebAppData=...&tgWebAppThemeParams=...), and the few events
   the console needs go through the same bridge the script uses. */
(function () {
  "use strict";
  var TELEGRAM_WEB = "https://web.telegram.org";
  var fragment = new URLSearchParams(window.location.hash.slice(1));
  var webApp = window.Telegram && window.Telegram.WebApp;
  var initData = (webApp && webApp.initData) || fragment.get("tgWebAppData") || "";
  var proxy = window.TelegramWebviewProxy;
  var framed = window.parent !== window;
  var inTelegram = Boolean(webApp || proxy || framed || fragment.get("tgWebAppPlatform"));

  /* Telegram's theme parameter -> the console's CSS variables. */
  var THEME = {
    bg_color: ["--bg", "--card"],
    secondary_bg_color: ["--bg2", "--l0"],
    section_bg_color: ["--card"],
    text_color: ["--text"],
    hint_color: ["--hint"],
    link_color: ["--link"],
    button_color: ["--accent"],
    button_text_color: ["--accent-text"],
    destructive_text_color: ["--danger"],
    section_separator_color: ["--line"]
  };
  var COLOUR = /^#[0-9a-f]{6}$/i;

  function parseJson(text) {
    try { return text ? JSON.parse(text) : null; } catch (e) { return null; }
  }

  function applyTheme(theme) {
    if (!theme || typeof theme !== "object") return;
    var root = document.documentElement.style;
    Object.keys(THEME).forEach(function (key) {
      var value = theme[key];
      if (typeof value !== "string" || !COLOUR.test(value)) return;
      THEME[key].forEach(function (name) { root.setProperty(name, value); });
    });
    if (typeof theme.bg_color === "string" && COLOUR.test(theme.bg_color)) {
      var n = parseInt(theme.bg_color.slice(1), 16);
      var light = 0.299 * (n >> 16) + 0.587 * ((n >> 8) & 255) + 0.114 * (n & 255);
      root.setProperty("color-scheme", light < 128 ? "dark" : "light");
    }
  }

  function postEvent(type, data) {
    if (webApp) return;
    var payload = data || {};
    if (proxy && proxy.postEvent) {
      proxy.postEvent(type, JSON.stringify(payload));
    } else if (framed) {
      window.parent.postMessage(JSON.stringify({ eventType: type, eventData: payload }), TELEGRAM_WEB);
    }
  }

  function onTelegramEvent(type, data) {
    if (type === "theme_changed" && data) applyTheme(data.theme_params);
  }

  if (webApp) {
    applyTheme(webApp.themeParams);
    webApp.onEvent("themeChanged", function () { applyTheme(webApp.themeParams); });
    webApp.ready();
    webApp.expand();
  } else {
    applyTheme(parseJson(fragment.get("tgWebAppThemeParams")));
    window.Telegram = window.Telegram || {};
    window.Telegram.WebView = window.Telegram.WebView || { receiveEvent: onTelegramEvent };
    window.addEventListener("message", function (event) {
      if (event.origin !== TELEGRAM_WEB) return;
      var message = parseJson(event.data);
      if (message) onTelegramEvent(message.eventType, message.eventData);
    });
    postEvent("web_app_ready");
    postEvent("web_app_expand");
  }

  /* Links to the originals open outside the Mini App, as Telegram wants. */
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[target=_blank]");
    if (!link || !inTelegram) return;
    if (webApp) { webApp.openLink(link.href); event.preventDefault(); }
    else if (proxy || framed) { postEvent("web_app_open_link", { url: link.href }); event.preventDefault(); }
  });

  var MESSAGES = {
    0: "The bot could not be reached. Check the connection and try again.",
    401: "Your sign-in is missing or has expired. Close the console and open it again from the bot's menu button.",
    403: "This page is for admins only.",
    404: "There is nothing here (any more).",
    429: "That was a lot of changes at once: wait a minute, then try again."
  };

  function flash(status) {
    var box = document.getElementById("flash");
    var main = document.getElementById("main");
    if (!box) {
      box = document.createElement("p");
      box.id = "flash";
      box.className = "card error";
      box.setAttribute("role", "alert");
      main.parentNode.insertBefore(box, main);
    }
    box.textContent = MESSAGES[status] || "Something went wrong on the bot's side (" + status + "). Please try again.";
    var loading = document.getElementById("status");
    if (loading) loading.remove();
  }

  function start() {
    if (!initData) {
      document.getElementById("status").textContent =
        "Open the console from the bot's menu button in Telegram (or with a link from `tweetdrip console-url`).";
      return;
    }
    document.body.addEventListener("htmx:configRequest", function (event) {
      event.detail.headers.Authorization = "tma " + initData;
    });
    document.body.addEventListener("htmx:beforeRequest", function () {
      var box = document.getElementById("flash");
      if (box) box.remove();
    });
    document.body.addEventListener("htmx:responseError", function (event) {
      flash(event.detail.xhr.status);
    });
    document.body.addEventListener("htmx:sendError", function () { flash(0); });
    document.body.addEventListener("htmx:afterSwap", function (event) {
      if (event.detail.target.id === "view") window.scrollTo(0, 0);
    });
    document.body.addEventListener("click", function (event) {
      var tab = event.target.closest && event.target.closest(".tab");
      if (!tab) return;
      document.querySelectorAll(".tab").forEach(function (other) {
        if (other === tab) other.setAttribute("aria-current", "page");
        else other.removeAttribute("aria-current");
      });
    });
    window.htmx.ajax("GET", "api/view/home", { target: "#main", swap: "innerHTML" });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
