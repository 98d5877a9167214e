/* trunkscope dashboard: light or dark, set on <html> before the page is
 * drawn (loaded without defer). The header's toggle stores an explicit
 * choice in localStorage ("ts-theme"); without one the system's
 * prefers-color-scheme decides, and a change of it is followed. */
"use strict";

const THEME_KEY = "ts-theme";

function themeStored() {
  try {
    const v = localStorage.getItem(THEME_KEY);
    return v === "dark" || v === "light" ? v : "";
  } catch {
    return ""; /* storage refused (privacy mode): follow the system */
  }
}

function themeApply() {
  const sys = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  const t = themeStored() || sys;
  document.documentElement.dataset.theme = t;
  const b = document.getElementById("theme-toggle");
  if (b) {
    b.textContent = t === "dark" ? "☀ light" : "☾ dark";
    b.title = themeStored() ? "theme chosen here (remembered)" : "theme follows the system";
  }
  return t;
}

/* The toggle: the other theme than the one shown, remembered. */
function themeToggle() {
  const next = document.documentElement.dataset.theme === "dark" ? "light" : "dark";
  try {
    localStorage.setItem(THEME_KEY, next);
  } catch { /* not remembered, still applied */ }
  document.documentElement.dataset.theme = next;
  themeApply();
}

themeApply();
if (window.matchMedia) window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", themeApply);
document.addEventListener("DOMContentLoaded", () => {
  const b = document.getElementById("theme-toggle");
  if (b) b.addEventListener("click", themeToggle);
  themeApply();
});
