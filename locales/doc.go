// Package locales holds every user-facing text of Lifeline as go-i18n YAML
// files named <part>.<tag>.yaml (or <tag>.yaml), and the Catalog that renders
// them. Go code refers to texts only by message id. It also embeds the
// crisis phrase lists (crisis/<tag>.yaml), which package flows/crisis reads.
//
// Imports: nothing from Lifeline. The engine reads the texts it needs
// (keywords, option words) through flows.Texts, which *Catalog satisfies.
package locales
