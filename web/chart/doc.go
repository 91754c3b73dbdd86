// Package chart draws small charts for the web console as inline SVG,
// ready to put in a server-rendered page.
//
// The console's Content Security Policy forbids inline scripts and inline
// style attributes, so the SVG uses only presentation attributes (fill,
// font-size, ...) and classes (chart, bar, suppressed, label, value),
// which the console's own stylesheet may override. All text is escaped.
//
// Imports: the standard library only.
package chart
