package telegram

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-telegram/bot/models"

	"github.com/lifeline-org/lifeline/bot"
)

// Name is the channel's name, as in bot.Inbound.Channel.
const Name = "telegram"

// StaleChoice is the Choice of a button press whose data this version
// cannot read; with Prompt -1 the engine treats it as a stale menu.
const StaleChoice = "?"

// callbackVersion prefixes every button's callback_data, so a later format
// can tell old buttons (still on people's phones) from new ones.
const callbackVersion = "v1"

// maxCallbackData is Telegram's limit on callback_data, in bytes.
const maxCallbackData = 64

// Normalize turns an update into what the runtime handles, or reports false
// for updates a person's conversation ignores: edits, group and channel
// chats (see Adapter.Group), service messages and other update kinds, and
// a button press anywhere but on a message in the presser's own private
// chat (see pressedInOwnChat).
// MessageID is "u" and the update_id, so a redelivered update is handled
// once. A button press has no time of its own: At stays zero for it.
func Normalize(update *models.Update) (bot.Inbound, bool) {
	if update == nil {
		return bot.Inbound{}, false
	}
	in := bot.Inbound{Channel: Name, MessageID: "u" + strconv.FormatInt(update.ID, 10)}
	switch {
	case update.Message != nil:
		m := update.Message
		if m.Chat.Type != models.ChatTypePrivate {
			return bot.Inbound{}, false
		}
		in.Address = strconv.FormatInt(m.Chat.ID, 10)
		in.PlatformMsg = int64(m.ID)
		in.At = messageTime(m.Date)
		switch {
		case m.Text != "":
			in.Text = m.Text
		case hasContent(m):
			in.NotText = true
		default:
			return bot.Inbound{}, false
		}
		return in, true
	case update.CallbackQuery != nil:
		cq := update.CallbackQuery
		if !pressedInOwnChat(cq) {
			return bot.Inbound{}, false
		}
		in.Address = strconv.FormatInt(cq.From.ID, 10)
		var ok bool
		if in.Choice, in.Prompt, ok = parseCallbackData(cq.Data); !ok {
			in.Choice, in.Prompt = StaleChoice, -1
		}
		return in, true
	}
	return bot.Inbound{}, false
}

// Member reads a my_chat_member update from a person's private chat with
// the bot: the person blocked the bot (new status "kicked": reachable is
// false) or unblocked it (new status "member": reachable is true). Other
// statuses, chats and update kinds report ok false. The address is the
// chat, which in a private chat is the person's user id: a change that
// names another chat than its sender's is not the person's own.
func Member(update *models.Update) (address string, reachable, ok bool) {
	if update == nil || update.MyChatMember == nil {
		return "", false, false
	}
	m := update.MyChatMember
	if m.Chat.Type != models.ChatTypePrivate || m.Chat.ID == 0 || m.Chat.ID != m.From.ID {
		return "", false, false
	}
	switch m.NewChatMember.Type {
	case models.ChatMemberTypeBanned:
		reachable = false
	case models.ChatMemberTypeMember:
		reachable = true
	default:
		return "", false, false
	}
	return strconv.FormatInt(m.Chat.ID, 10), reachable, true
}

// messageTime is a message's date as a time, or zero (the adapter then
// takes its own clock) for a date outside the years 0 to 9999: the runtime
// could never store such a message as JSON, so it would be refused and
// redelivered for ever, holding up long polling for everyone.
func messageTime(date int) time.Time {
	at := time.Unix(int64(date), 0).UTC()
	if y := at.Year(); y < 0 || y > 9999 {
		return time.Time{}
	}
	return at
}

// ChatType returns the type of chat an update comes from (private, group,
// supergroup, channel), or "" for updates without one.
func ChatType(update *models.Update) models.ChatType {
	switch {
	case update == nil:
		return ""
	case update.Message != nil:
		return update.Message.Chat.Type
	case update.EditedMessage != nil:
		return update.EditedMessage.Chat.Type
	case update.ChannelPost != nil:
		return models.ChatTypeChannel
	case update.CallbackQuery != nil:
		_, typ, _ := callbackChat(update.CallbackQuery)
		return typ
	case update.MyChatMember != nil:
		return update.MyChatMember.Chat.Type
	case update.ChatMember != nil:
		return update.ChatMember.Chat.Type
	}
	return ""
}

// callbackChat returns the chat of the message a pressed button was on,
// whether Telegram still shows the message or not (Bot API 9.4
// MaybeInaccessibleMessage). ok is false without a message: a button on an
// inline message, which Lifeline does not send.
func callbackChat(cq *models.CallbackQuery) (id int64, typ models.ChatType, ok bool) {
	switch {
	case cq.Message.Message != nil:
		return cq.Message.Message.Chat.ID, cq.Message.Message.Chat.Type, true
	case cq.Message.InaccessibleMessage != nil:
		return cq.Message.InaccessibleMessage.Chat.ID, cq.Message.InaccessibleMessage.Chat.Type, true
	}
	return 0, "", false
}

// pressedInOwnChat reports whether a button press may act for the person
// who pressed: the button's message is in the presser's own private chat
// (whose id is the presser's user id). A press that names another chat
// (only a forged or confused update can) must not act on that chat, and
// one with no message names no chat of the presser's at all.
func pressedInOwnChat(cq *models.CallbackQuery) bool {
	chat, typ, ok := callbackChat(cq)
	return ok && typ == models.ChatTypePrivate && chat == cq.From.ID && chat != 0
}

// hasContent reports whether m carries something a person sent that is not
// text (as opposed to a service message such as a changed timer).
func hasContent(m *models.Message) bool {
	return m.Animation != nil || m.Audio != nil || m.Document != nil || m.PaidMedia != nil ||
		len(m.Photo) > 0 || m.Sticker != nil || m.Story != nil || m.Video != nil ||
		m.VideoNote != nil || m.Voice != nil || m.Checklist != nil || m.Contact != nil ||
		m.Dice != nil || m.Game != nil || m.Poll != nil || m.Venue != nil ||
		m.Location != nil || m.Invoice != nil || m.Caption != ""
}

// callbackData encodes a button as "v1:<prompt>:<option id>".
func callbackData(prompt int, option string) (string, error) {
	if option == "" {
		return "", fmt.Errorf("option has an empty id")
	}
	d := callbackVersion + ":" + strconv.Itoa(prompt) + ":" + option
	if len(d) > maxCallbackData {
		return "", fmt.Errorf("option id %q makes callback_data %d bytes, over Telegram's %d: shorten the id", option, len(d), maxCallbackData)
	}
	return d, nil
}

// parseCallbackData reads callbackData's format; ok is false for anything
// else (another version, a malformed or foreign button).
func parseCallbackData(data string) (option string, prompt int, ok bool) {
	v, rest, ok := strings.Cut(data, ":")
	if !ok || v != callbackVersion {
		return "", 0, false
	}
	p, option, ok := strings.Cut(rest, ":")
	if !ok || option == "" {
		return "", 0, false
	}
	prompt, err := strconv.Atoi(p)
	if err != nil || prompt < 0 || strconv.Itoa(prompt) != p {
		return "", 0, false
	}
	return option, prompt, true
}
