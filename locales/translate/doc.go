// Package translate is the translators' workflow over a directory of
// go-i18n locale files (<part>.<tag>.yaml, English the source): per-message
// review status that survives edits, export to gettext PO for offline
// tools, and import back with checks.
//
// Review status lives beside the texts in review/<tag>.yaml, one line per
// message: the short hash of the English text the translation was made or
// reviewed from, and whether a reviewer approved it. When the English text
// changes, the hash no longer matches and the message "needs review". A
// translated message with no line is "not reviewed". locales.Load reads
// only the *.yaml at the top of its directory, so review/ is never taken
// for messages.
//
// Imports: locales (to check that what it writes still loads).
package translate
