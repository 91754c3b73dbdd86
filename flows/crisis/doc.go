// Package crisis finds words of danger in what a person writes: that they
// are being hurt, held, threatened, or want to end their life. It is pure
// (no I/O once loaded) and the runtime, the `lifeline crisis` command and
// the tests all call the same Match.
//
// Each language has a list (locales/crisis/<lang>.yaml): its own phrases,
// phrases matched whatever the person's language (an emergency number,
// "SOS"), and negative contexts ("emergency contact") inside which a phrase
// does not count. A person's own language is matched first, so one
// language's ordinary word is not another's alarm (Portuguese "encerrado",
// closed, is Spanish for locked in).
//
// Imports: flows (FoldDigits) and flows/overlay. The lists are data in locales/crisis
// (locales.CrisisFiles); flows/content loads them.
package crisis
