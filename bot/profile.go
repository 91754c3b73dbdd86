package bot

// Profile fields that more than one part of Lifeline reads or writes. The
// runner owns the profile; these names are the contract.

// Relay profile fields, set by the coach module when a coach claims a case.
const (
	RelayAlias   = "relay"      // the case alias
	RelayAddress = "relay_addr" // the coach's chat, sealed
	RelayChannel = "relay_ch"   // the coach's channel
)

// SoundField is the profile field that is "1" when the person wants a
// sound for the messages Lifeline starts itself. The settings flow sets
// and clears it with the effects subscribe and unsubscribe, topic "sound".
const SoundField = "sub.sound"

// FieldLongFollowUp is the profile field that marks a person for long
// follow-up (ILO guidelines 3d): monthly check-ins to year 5 instead of
// every three months after year 3. A coach sets it through the check-in
// scheduler; its value is the coach's reason. MY DATA says it is kept, and
// DELETE erases it with the rest of the profile.
const FieldLongFollowUp = "ci.long"

// FieldUnreachable is the profile field that is "1" while the person
// cannot be reached on their channel: they blocked the bot on Telegram
// (store.MarkReachable clears it again when they unblock it), or the
// platform refused a send for good (a dead number). Broadcasts, job
// alerts, check-ins and the retention notice skip them.
const FieldUnreachable = "unreachable"

// WorkspaceChannel is the channel of case conversations in the console's
// coach workspace (package bot/workspace): the relay channel of a case a
// coach holds in the console, whose address is the case alias.
const WorkspaceChannel = "workspace"
