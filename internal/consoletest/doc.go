// Package consoletest drives the staff console in a real Chromium (Debian's chromium
// package, through the DevTools protocol with chromedp) against a whole suite started by
// internal/testenv with a fake Libris. Its tests are the console's acceptance tests: they
// click, type and read pages as a person would. With CONSOLE_SCREENSHOTS=DIR they also
// save the screenshots the README shows (make console-screenshots).
package consoletest
